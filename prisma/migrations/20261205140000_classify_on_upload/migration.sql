-- Classify on upload (ADR 28): the labels each document got when it was indexed, for an upload that asked for them.
ALTER TABLE "documents" ADD COLUMN "labels" JSONB;
