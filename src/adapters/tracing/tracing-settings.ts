import type { Config } from '../../config.js';

type TracingConfig = Pick<
  Config,
  | 'OTEL_SDK_DISABLED'
  | 'OTEL_TRACES_EXPORTER'
  | 'OTEL_EXPORTER_OTLP_ENDPOINT'
  | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
  | 'OTEL_SERVICE_NAME'
  | 'OTEL_TRACES_SAMPLER'
  | 'OTEL_TRACES_SAMPLER_ARG'
  | 'OTEL_BSP_SCHEDULE_DELAY'
  | 'OTEL_BSP_EXPORT_TIMEOUT'
  | 'OTEL_BSP_MAX_QUEUE_SIZE'
  | 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'
>;

export interface TracingSettings {
  /** Where spans are POSTed, as OTLP/HTTP JSON. */
  url: string;
  serviceName: string;
  sampler: Config['OTEL_TRACES_SAMPLER'];
  /** The ratio of the traceidratio samplers. */
  ratio: number;
  /** The batch span processor's options, as the SDK names them. */
  batch: {
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
    maxQueueSize: number;
    maxExportBatchSize: number;
  };
}

/** The OTLP/HTTP collector's default, when OTEL_TRACES_EXPORTER=otlp names no endpoint. */
const DEFAULT_ENDPOINT = 'http://localhost:4318';

/**
 * Whether traces are exported, and where, read as the OpenTelemetry specification reads the
 * OTEL_* variables: off when the SDK is disabled or the exporter is `none`; on when the exporter
 * is `otlp` or an endpoint is set. The signal's own endpoint is used as given; the generic one
 * gets `/v1/traces` appended.
 */
export function tracingSettings(config: TracingConfig): TracingSettings | undefined {
  if (config.OTEL_SDK_DISABLED || config.OTEL_TRACES_EXPORTER === 'none') return undefined;
  const endpoint = config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? config.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (config.OTEL_TRACES_EXPORTER !== 'otlp' && endpoint === undefined) return undefined;
  const url =
    config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    `${(config.OTEL_EXPORTER_OTLP_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '')}/v1/traces`;
  return {
    url,
    serviceName: config.OTEL_SERVICE_NAME,
    sampler: config.OTEL_TRACES_SAMPLER,
    ratio: config.OTEL_TRACES_SAMPLER_ARG ?? 1,
    batch: {
      scheduledDelayMillis: config.OTEL_BSP_SCHEDULE_DELAY,
      exportTimeoutMillis: config.OTEL_BSP_EXPORT_TIMEOUT,
      maxQueueSize: config.OTEL_BSP_MAX_QUEUE_SIZE,
      maxExportBatchSize: config.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    },
  };
}
