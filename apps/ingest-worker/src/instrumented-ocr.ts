import type { OcrEngine, OcrResult } from '@quarry/extraction';
import type { QuarryMetrics } from '@quarry/telemetry';

type OcrOptions = Parameters<OcrEngine['recognize']>[1];

/**
 * The OCR engine with its pages counted and timed (quarry_ocr_pages_total, quarry_ocr_page_duration_seconds),
 * so the extraction library stays free of telemetry. A page below the confidence bar counts as low_confidence.
 */
export class InstrumentedOcrEngine implements OcrEngine {
  constructor(
    private readonly engine: OcrEngine,
    private readonly metrics: Pick<QuarryMetrics, 'counter' | 'histogram'>,
    private readonly minConfidence: number,
  ) {}

  get kind(): OcrEngine['kind'] {
    return this.engine.kind;
  }

  get concurrency(): number {
    return this.engine.concurrency;
  }

  async recognize(imagePath: string, options: OcrOptions): Promise<OcrResult> {
    const started = performance.now();
    let result: 'ok' | 'low_confidence' | 'failed' = 'failed';
    try {
      const read = await this.engine.recognize(imagePath, options);
      result = read.confidence < this.minConfidence ? 'low_confidence' : 'ok';
      return read;
    } finally {
      // An OCR stopped by a cancel or a shutdown says nothing about the page.
      if (!options.signal?.aborted) {
        this.metrics.counter('quarry_ocr_pages_total').inc({ engine: this.kind, result });
        if (result !== 'failed') {
          this.metrics
            .histogram('quarry_ocr_page_duration_seconds')
            .observe({ engine: this.kind }, (performance.now() - started) / 1000);
        }
      }
    }
  }

  detectOrientation(imagePath: string, options: OcrOptions) {
    return this.engine.detectOrientation(imagePath, options);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
