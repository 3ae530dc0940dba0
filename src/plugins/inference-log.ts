import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { InferenceLog } from '../core/inference-log/inference-log.js';
import { SINK_NICE, SinkThread } from '../adapters/inference-log/sink-thread.js';
import type { SinkOptions } from '../adapters/inference-log/sinks.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The inference log, when INFERENCE_LOG names a sink. */
    inferenceLog?: InferenceLog;
  }
}

type LogConfig = Pick<
  Config,
  | 'INFERENCE_LOG'
  | 'INFERENCE_LOG_SAMPLE'
  | 'INFERENCE_LOG_MODE'
  | 'INFERENCE_LOG_INPUTS'
  | 'INFERENCE_LOG_DIR'
  | 'INFERENCE_LOG_FILE_BYTES'
  | 'INFERENCE_LOG_REDIS_URL'
  | 'REDIS_URL'
  | 'INFERENCE_LOG_STREAM'
  | 'INFERENCE_LOG_STREAM_MAXLEN'
  | 'INFERENCE_LOG_QUEUE'
  | 'INFERENCE_LOG_BATCH'
  | 'INFERENCE_LOG_FLUSH_MS'
  | 'INFERENCE_LOG_ATTEMPTS'
  | 'INFERENCE_LOG_BACKOFF_MS'
  | 'INFERENCE_LOG_TIMEOUT_MS'
  | 'INFERENCE_LOG_HASH_KEY'
  | 'INFERENCE_LOG_URL'
  | 'INFERENCE_LOG_SOURCE'
  | 'INFERENCE_LOG_CE_MODE'
  | 'SHUTDOWN_TIMEOUT_MS'
>;

/** The sink INFERENCE_LOG names, or undefined when it is off; a setting it lacks fails the start. */
export function sinkOptions(config: LogConfig): SinkOptions | undefined {
  if (config.INFERENCE_LOG === 'jsonl')
    return { kind: 'jsonl', dir: config.INFERENCE_LOG_DIR, maxBytes: config.INFERENCE_LOG_FILE_BYTES };
  if (config.INFERENCE_LOG === 'redis') {
    const url = config.INFERENCE_LOG_REDIS_URL ?? config.REDIS_URL;
    if (!url) throw new Error('INFERENCE_LOG=redis needs INFERENCE_LOG_REDIS_URL or REDIS_URL');
    const { INFERENCE_LOG_STREAM: stream, INFERENCE_LOG_STREAM_MAXLEN: maxLen } = config;
    return { kind: 'redis', url, stream, maxLen, timeoutMs: config.INFERENCE_LOG_TIMEOUT_MS };
  }
  if (config.INFERENCE_LOG === 'cloudevents') {
    if (!config.INFERENCE_LOG_URL) throw new Error('INFERENCE_LOG=cloudevents needs INFERENCE_LOG_URL');
    return {
      kind: 'cloudevents',
      url: config.INFERENCE_LOG_URL,
      source: config.INFERENCE_LOG_SOURCE,
      timeoutMs: config.INFERENCE_LOG_TIMEOUT_MS,
      mode: config.INFERENCE_LOG_CE_MODE,
    };
  }
  return undefined;
}

/**
 * The inference log (core/inference-log/) on the sink INFERENCE_LOG names, run on a thread of its
 * own below the event loop's priority (adapters/inference-log/sink-thread.ts), its records counted
 * in ml_inference_log_records_total. On close (SIGTERM, after the HTTP and gRPC servers have
 * finished their requests) what is queued is written within half of SHUTDOWN_TIMEOUT_MS.
 */
export default fp<{ config: LogConfig }>(
  async (app, { config }) => {
    const options = sinkOptions(config);
    if (!options) return;
    const log = new InferenceLog(
      new SinkThread(options, SINK_NICE),
      {
        defaults: {
          sample: config.INFERENCE_LOG_SAMPLE,
          mode: config.INFERENCE_LOG_MODE,
          inputs: config.INFERENCE_LOG_INPUTS,
        },
        maxQueue: config.INFERENCE_LOG_QUEUE,
        batch: config.INFERENCE_LOG_BATCH,
        flushMs: config.INFERENCE_LOG_FLUSH_MS,
        attempts: config.INFERENCE_LOG_ATTEMPTS,
        backoffMs: config.INFERENCE_LOG_BACKOFF_MS,
        ...(config.INFERENCE_LOG_HASH_KEY !== undefined && { hashKey: config.INFERENCE_LOG_HASH_KEY }),
      },
      app.metrics.inferenceLog,
    );
    app.decorate('inferenceLog', log);
    app.addHook('onClose', async () => log.close(config.SHUTDOWN_TIMEOUT_MS / 2));
  },
  { name: 'inference-log', dependencies: ['metrics'] },
);
