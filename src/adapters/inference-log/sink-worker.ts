import { parentPort, workerData } from 'node:worker_threads';
import { lowerPriority } from '../../runtime/priority.js';
import { openSink, type SinkOptions } from './sinks.js';

/** What the sink thread is asked: write a batch, or close the sink. */
export type SinkRequest = { op: 'write'; lines: string[] } | { op: 'close' };
/** A request as sent, numbered for its reply. */
export type SinkCall = SinkRequest & { n: number };
/** Its answer to call n: done, or the error's message. */
export interface SinkReply {
  n: number;
  error?: string;
}

/**
 * Runs on the inference log's own thread (sink-thread.ts): the sink's I/O and its CPU (HTTP
 * requests, the Redis protocol, file writes) at a lower priority than the event loop. One call at
 * a time: the log writes one batch at a time.
 */
const { options, nice } = workerData as { options: SinkOptions; nice: number };
lowerPriority(nice);
const sink = openSink(options);
parentPort!.on('message', (call: SinkCall) => {
  const done = call.op === 'write' ? sink.write(call.lines) : sink.close();
  done.then(
    () => parentPort!.postMessage({ n: call.n } satisfies SinkReply),
    (error: unknown) =>
      parentPort!.postMessage({
        n: call.n,
        error: error instanceof Error ? error.message : String(error),
      } satisfies SinkReply),
  );
});
