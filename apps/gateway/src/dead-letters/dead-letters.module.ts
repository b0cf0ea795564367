import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { DeadLetterRecorder } from './dead-letter-recorder';
import { DeadLettersController } from './dead-letters.controller';
import { MaxDeliveriesWatcher } from './max-deliveries-watcher';

/**
 * Dead letters: recorded from the DLQ stream and rescued from the work queue (message handlers on the JetStream
 * transport, see bootstrap.ts), listed and replayed over HTTP. A replay makes a retry job through the jobs feature.
 */
@Module({
  imports: [JobsModule],
  controllers: [DeadLettersController, DeadLetterRecorder, MaxDeliveriesWatcher],
})
export class DeadLettersModule {}
