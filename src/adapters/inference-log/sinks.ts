import type { LogSink } from '../../core/inference-log/inference-log.js';
import { CloudEventsSink, type CloudEventsMode } from './cloudevents-sink.js';
import { JsonlSink } from './jsonl-sink.js';
import { RedisStreamSink } from './redis-stream-sink.js';

/** A sink described in plain data, so that the sink thread can open it (structured-cloneable). */
export type SinkOptions =
  | { kind: 'jsonl'; dir: string; maxBytes: number }
  | { kind: 'redis'; url: string; stream: string; maxLen: number; timeoutMs: number }
  | { kind: 'cloudevents'; url: string; source: string; timeoutMs: number; mode: CloudEventsMode };

export function openSink(options: SinkOptions): LogSink {
  switch (options.kind) {
    case 'jsonl':
      return new JsonlSink(options.dir, options.maxBytes);
    case 'redis':
      return new RedisStreamSink(options.url, options.stream, options.maxLen, options.timeoutMs);
    case 'cloudevents':
      return new CloudEventsSink(options.url, options.source, options.timeoutMs, options.mode);
  }
}
