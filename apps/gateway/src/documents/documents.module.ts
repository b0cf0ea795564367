import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { DocumentsController } from './documents.controller';
import { IngestJobAcceptor } from './ingest-job-acceptor';
import { UploadService } from './upload.service';
import { UrlIngestService } from './url-ingest.service';

/** Documents: uploads and URL ingests become jobs (through one acceptor); a document's detail and bytes. */
@Module({
  imports: [UsageModule],
  controllers: [DocumentsController],
  providers: [IngestJobAcceptor, UploadService, UrlIngestService],
})
export class DocumentsModule {}
