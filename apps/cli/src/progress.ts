import type { JobProgress } from '@quarry/sdk';
import { MultiBar, type SingleBar } from 'cli-progress';
import type { Output } from './context';
import { colorStatus, documentPercent } from './format';

/** Each document's progress as its job's events report it. */
export interface DocumentsDisplay {
  set(id: string, filename: string | null, status: string): void;
  stop(): void;
}

/**
 * On a terminal, one bar per document redrawn in place (cli-progress); otherwise one plain line per status change;
 * with --json nothing (the result says it all).
 */
export function documentsDisplay(out: Output, initial: readonly { id: string; filename: string | null }[]) {
  if (out.json) return new SilentDisplay();
  return out.tty ? new BarsDisplay(out, initial) : new LinesDisplay(out);
}

/** Feeds a display from the SDK's onProgress. */
export function followProgress(display: DocumentsDisplay): (progress: JobProgress) => void {
  return (progress) => {
    const event = progress.event;
    if (!event.documentId) return;
    const doc = progress.documents[event.documentId];
    if (doc) display.set(event.documentId, doc.filename, doc.status);
  };
}

class SilentDisplay implements DocumentsDisplay {
  set(): void {}
  stop(): void {}
}

class LinesDisplay implements DocumentsDisplay {
  private readonly last = new Map<string, string>();
  constructor(private readonly out: Output) {}

  set(id: string, filename: string | null, status: string): void {
    if (this.last.get(id) === status) return;
    this.last.set(id, status);
    this.out.line(`${filename ?? id}: ${colorStatus(this.out.c, status)}`);
  }

  stop(): void {}
}

class BarsDisplay implements DocumentsDisplay {
  private readonly multi: MultiBar;
  private readonly bars = new Map<string, { bar: SingleBar; filename: string; status: string }>();
  private readonly width: number;

  constructor(
    private readonly out: Output,
    initial: readonly { id: string; filename: string | null }[],
  ) {
    this.width = Math.min(40, Math.max(8, ...initial.map((d) => (d.filename ?? d.id).length)));
    this.multi = new MultiBar({
      stream: out.stdout,
      format: ' {bar} {percentage}% | {filename} | {status}',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      fps: 10,
    });
    for (const d of initial) this.set(d.id, d.filename, 'queued');
    // Ctrl-C while the bars are drawn: leave the terminal as it was (cursor shown, wrapping on), exit 130 as shells do.
    process.once('SIGINT', this.interrupted);
  }

  private readonly interrupted = () => {
    this.multi.stop();
    process.exit(130);
  };

  set(id: string, filename: string | null, status: string): void {
    const existing = this.bars.get(id);
    const name = filename ?? existing?.filename ?? id;
    const payload = { filename: fit(name, this.width), status: colorStatus(this.out.c, status) };
    if (!existing) {
      this.bars.set(id, {
        bar: this.multi.create(100, documentPercent(status), payload),
        filename: name,
        status,
      });
      return;
    }
    if (existing.status === status) return;
    existing.status = status;
    existing.bar.update(documentPercent(status), payload);
  }

  stop(): void {
    process.removeListener('SIGINT', this.interrupted);
    this.multi.stop();
  }
}

function fit(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}
