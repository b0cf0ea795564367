import { Module } from '@nestjs/common';
import { PublicEventStreams } from '@quarry/messaging';
import { EventRelay } from './event-relay';
import { EventsController } from './events.controller';

/** Public events (ADR 30): published from the database by the relay, served back as Server-Sent Events. */
@Module({
  providers: [EventRelay, PublicEventStreams],
  controllers: [EventsController],
  exports: [EventRelay],
})
export class EventsModule {}
