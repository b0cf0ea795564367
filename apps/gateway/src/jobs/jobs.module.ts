import { Module } from '@nestjs/common';
import { CancelJobService } from './cancel-job.service';
import { JobsController } from './jobs.controller';
import { JobRetryController } from './retry.controller';
import { RetryService } from './retry.service';

/** Jobs: read, list, cancel and retry. Exports RetryService, which dead-letter replays use too. */
@Module({
  controllers: [JobsController, JobRetryController],
  providers: [CancelJobService, RetryService],
  exports: [RetryService],
})
export class JobsModule {}
