-- Tenants' keys with scopes and an expiry, and a request rate per key shared by every gateway replica (issue 11,
-- ADR 31).
--
-- Every key that exists was made by `ops api-key <tenant> <key>` or QUARRY_BOOTSTRAP_API_KEY, and such keys hold
-- every scope: the default fills them in, then goes, so a key made later always names its scopes.

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN "scopes" TEXT[] NOT NULL DEFAULT ARRAY['read', 'write', 'admin']::TEXT[],
ADD COLUMN "expires_at" TIMESTAMPTZ(6);
ALTER TABLE "api_keys" ALTER COLUMN "scopes" DROP DEFAULT;

-- CreateTable
-- Unlogged (schema.prisma cannot say so; the drift check does not compare it): every request that passes the guard
-- updates its key's row, and a crash that empties the table only hands every key a fresh burst.
CREATE UNLOGGED TABLE "api_key_rate_limits" (
    "api_key_id" UUID NOT NULL,
    "tat" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "api_key_rate_limits_pkey" PRIMARY KEY ("api_key_id")
);

-- CreateIndex
CREATE INDEX "api_keys_tenant_id_created_at_idx" ON "api_keys"("tenant_id", "created_at" DESC);

-- AddForeignKey
ALTER TABLE "api_key_rate_limits" ADD CONSTRAINT "api_key_rate_limits_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE CASCADE;
