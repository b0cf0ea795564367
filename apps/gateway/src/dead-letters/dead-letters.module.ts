import { Module } from '@nestjs/common';
import {
  AFTER_COMMIT,
  DeadLettersRepository,
  PRISMA,
  type AfterCommit,
  type PrismaClient,
} from '@quarry/persistence';
import { JobRetryController } from '../jobs/retry.controller';
import { RetryService } from '../jobs/retry.service';
import { DeadLetterRecorder } from './dead-letter-recorder';
import { DeadLettersController } from './dead-letters.controller';
import { MaxDeliveriesWatcher } from './max-deliveries-watcher';

/**
 * Dead letters (recorded from the DLQ stream, listed, replayed) and job retry, which share the making
 * of retry jobs. Relies on the global persistence and messaging modules.
 */
@Module({
  // The recorder and the watcher are message handlers, run by the JetStream transport (see bootstrap.ts).
  controllers: [DeadLettersController, JobRetryController, DeadLetterRecorder, MaxDeliveriesWatcher],
  providers: [
    {
      provide: DeadLettersRepository,
      inject: [PRISMA, AFTER_COMMIT],
      useFactory: (p: PrismaClient, a: AfterCommit) => new DeadLettersRepository(p, a),
    },
    RetryService,
  ],
})
export class DeadLettersModule {}
