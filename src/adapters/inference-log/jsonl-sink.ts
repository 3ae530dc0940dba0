import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogSink } from '../../core/inference-log/inference-log.js';

/**
 * Records appended to JSON-lines files in a directory, one file at a time, a new one past
 * maxBytes: inference-<time>-<pid>-<n>.jsonl, so that replicas sharing a volume never write the
 * same file and the names sort by time. One write per batch.
 */
export class JsonlSink implements LogSink {
  readonly name = 'jsonl';
  private file?: FileHandle;
  private bytes = 0;
  private files = 0;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {}

  async write(lines: string[]): Promise<void> {
    const text = Buffer.from(`${lines.join('\n')}\n`);
    if (!this.file || (this.bytes > 0 && this.bytes + text.length > this.maxBytes)) await this.rotate();
    await this.file!.appendFile(text);
    this.bytes += text.length;
  }

  async close(): Promise<void> {
    await this.file?.close();
    this.file = undefined;
  }

  private async rotate(): Promise<void> {
    await this.close();
    await mkdir(this.dir, { recursive: true });
    const time = new Date().toISOString().replace(/[:.]/g, '-');
    const name = `inference-${time}-${process.pid}-${++this.files}.jsonl`;
    this.file = await open(join(this.dir, name), 'a');
    this.bytes = 0;
  }
}
