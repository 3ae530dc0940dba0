import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { tracingSettings } from '../../../src/adapters/tracing/tracing-settings.js';

const settings = (env: Record<string, string>) => tracingSettings(loadConfig(env, 1));

describe('tracing settings from the OTEL_* variables', () => {
  it('is off by default, and when disabled or told none, whatever the endpoint', () => {
    expect(settings({})).toBeUndefined();
    expect(
      settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBeUndefined();
    expect(
      settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }),
    ).toBeUndefined();
  });

  it('is on with an endpoint: the generic one gets /v1/traces, the traces one is used as given', () => {
    expect(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toEqual({
      url: 'http://collector:4318/v1/traces',
      serviceName: 'onnx-serve',
      sampler: 'parentbased_always_on',
      ratio: 1,
      // The specification's defaults
      batch: { scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    });
    expect(
      settings({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/otlp/traces',
      })?.url,
    ).toBe('https://b/otlp/traces');
  });

  it('is on with OTEL_TRACES_EXPORTER=otlp alone, sending to the local collector', () => {
    expect(
      settings({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_SERVICE_NAME: 'scorer',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_BSP_MAX_QUEUE_SIZE: '8192',
      }),
    ).toMatchObject({
      url: 'http://localhost:4318/v1/traces',
      serviceName: 'scorer',
      sampler: 'parentbased_traceidratio',
      ratio: 0.25,
      batch: { maxQueueSize: 8192 },
    });
  });

  it('refuses what it would not honour: other exporters, protobuf or gRPC, unknown samplers, bad URLs', () => {
    for (const env of [
      { OTEL_TRACES_EXPORTER: 'zipkin' },
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
      { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' },
      { OTEL_TRACES_SAMPLER: 'jaeger_remote' },
      { OTEL_TRACES_SAMPLER_ARG: '2' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' },
    ]) {
      expect(() => loadConfig(env, 1), JSON.stringify(env)).toThrow(ConfigError);
    }
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, 1)).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL="http\/protobuf": .*http\/json/,
    );
  });
});
