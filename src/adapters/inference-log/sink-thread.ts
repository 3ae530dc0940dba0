import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LogSink } from '../../core/inference-log/inference-log.js';
import type { SinkCall, SinkReply, SinkRequest } from './sink-worker.js';
import type { SinkOptions } from './sinks.js';

/**
 * The sink thread's nice value: the lowest priority, below the inference and decode workers
 * (WORKER_NICE), since the log must take no CPU that answers need.
 */
export const SINK_NICE = 19;

type Waiting = { resolve: () => void; reject: (error: Error) => void };

/**
 * A sink run on a thread of its own (sink-worker.ts), at a lower priority: the event loop pays a
 * message per batch, the thread pays the sink's work (a POST per event in CloudEvents binary mode,
 * 50-70 µs of CPU each). When the cores are saturated, the thread gets what the event loop leaves:
 * the log's queue fills and records are dropped and counted, instead of clients slowing down.
 * A thread that dies fails the calls it held (the log retries them), and the next call starts
 * another. It holds the process open only while a call is in flight (the flush at shutdown).
 */
export class SinkThread implements LogSink {
  readonly name: string;
  private worker?: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private calls = 0;

  constructor(
    private readonly options: SinkOptions,
    private readonly nice: number,
  ) {
    this.name = options.kind;
    // Started now, as the sink itself would be: a Redis connection is up before the first batch
    this.worker = this.start();
  }

  write(lines: string[]): Promise<void> {
    return this.call({ op: 'write', lines });
  }

  async close(): Promise<void> {
    if (!this.worker) return;
    await this.call({ op: 'close' }).catch(() => undefined);
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private call(request: SinkRequest): Promise<void> {
    const worker = (this.worker ??= this.start());
    const n = ++this.calls;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(n, { resolve, reject });
      worker.postMessage({ ...request, n } satisfies SinkCall);
    });
  }

  private start(): Worker {
    const typescript = fileURLToPath(import.meta.url).endsWith('.ts');
    const worker = new Worker(
      fileURLToPath(new URL(typescript ? './dev-sink-worker.mjs' : './sink-worker.js', import.meta.url)),
      { workerData: { options: this.options, nice: this.nice } },
    );
    worker.unref();
    worker.on('message', ({ n, error }: SinkReply) => {
      const waiting = this.waiting.get(n);
      this.waiting.delete(n);
      if (this.waiting.size === 0) worker.unref();
      if (error === undefined) waiting?.resolve();
      else waiting?.reject(new Error(error));
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiting of this.waiting.values()) waiting.reject(error);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the inference log's sink thread exited (${code})`)));
    return worker;
  }
}
