import { Module } from '@nestjs/common';
import { QuotaService } from './quota.service';
import { UsageController } from './usage.controller';

/** Usage and quotas (ADR 32): GET /v1/usage, and the quota check the routes that accept work make first. */
@Module({ controllers: [UsageController], providers: [QuotaService], exports: [QuotaService] })
export class UsageModule {}
