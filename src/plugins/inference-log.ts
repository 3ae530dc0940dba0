import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { InferenceLog, type LogSink } from '../core/inference-log/inference-log.js';
import { JsonlSink } from '../adapters/inference-log/jsonl-sink.js';
import { RedisStreamSink } from '../adapters/inference-log/redis-stream-sink.js';
import { CloudEventsSink } from '../adapters/inference-log/cloudevents-sink.js';

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

/** The sink INFERENCE_LOG names, or undefined when it is off. */
export function logSink(config: LogConfig): LogSink | undefined {
  if (config.INFERENCE_LOG === 'jsonl') return new JsonlSink(config.INFERENCE_LOG_DIR, config.INFERENCE_LOG_FILE_BYTES);
  if (config.INFERENCE_LOG === 'redis') {
    const url = config.INFERENCE_LOG_REDIS_URL ?? config.REDIS_URL;
    if (!url) throw new Error('INFERENCE_LOG=redis needs INFERENCE_LOG_REDIS_URL or REDIS_URL');
    return new RedisStreamSink(
      url,
      config.INFERENCE_LOG_STREAM,
      config.INFERENCE_LOG_STREAM_MAXLEN,
      config.INFERENCE_LOG_TIMEOUT_MS,
    );
  }
  if (config.INFERENCE_LOG === 'cloudevents') {
    if (!config.INFERENCE_LOG_URL) throw new Error('INFERENCE_LOG=cloudevents needs INFERENCE_LOG_URL');
    return new CloudEventsSink(
      config.INFERENCE_LOG_URL,
      config.INFERENCE_LOG_SOURCE,
      config.INFERENCE_LOG_TIMEOUT_MS,
      config.INFERENCE_LOG_CE_MODE,
    );
  }
  return undefined;
}

/**
 * The inference log (core/inference-log/) on the sink INFERENCE_LOG names, its records counted
 * in ml_inference_log_records_total. On close (SIGTERM, after the HTTP and gRPC servers have
 * finished their requests) what is queued is written within half of SHUTDOWN_TIMEOUT_MS.
 */
export default fp<{ config: LogConfig }>(
  async (app, { config }) => {
    const sink = logSink(config);
    if (!sink) return;
    const log = new InferenceLog(
      sink,
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
