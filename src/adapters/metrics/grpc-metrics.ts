import { Counter, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS } from './buckets.js';

type CallLabels = 'grpc_type' | 'grpc_service' | 'grpc_method';

/**
 * gRPC calls in the series names and labels of go-grpc-prometheus and grpc-ecosystem's middleware,
 * which Grafana's gRPC dashboards read: calls started, calls handled by status code, handling time,
 * and stream messages each way. One ModelStreamInfer call carries many requests: each is counted in
 * the messages, and its inference in the ml_* series like any other.
 */
export class GrpcMetrics {
  private readonly started: Counter<CallLabels>;
  private readonly handled: Counter<CallLabels | 'grpc_code'>;
  private readonly seconds: Histogram<CallLabels>;
  private readonly received: Counter<CallLabels>;
  private readonly sent: Counter<CallLabels>;
  private readonly bound = new Map<string, ReturnType<GrpcMetrics['bind']>>();

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['grpc_type', 'grpc_service', 'grpc_method'] as const;
    this.started = new Counter({
      name: 'grpc_server_started_total',
      help: 'gRPC calls started on the server.',
      labelNames,
      registers,
    });
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed, by status code (OK, INVALID_ARGUMENT, UNAVAILABLE...).',
      labelNames: [...labelNames, 'grpc_code'] as const,
      registers,
    });
    this.seconds = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'gRPC call duration, from the call to its status.',
      labelNames,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.received = new Counter({
      name: 'grpc_server_msg_received_total',
      help: 'Messages received on gRPC calls (each request of a stream).',
      labelNames,
      registers,
    });
    this.sent = new Counter({
      name: 'grpc_server_msg_sent_total',
      help: 'Messages sent on gRPC calls (each answer of a stream).',
      labelNames,
      registers,
    });
  }

  /** A call began; returns what ends it with its status code's name. */
  call(service: string, method: string, streaming: boolean): (code: string) => void {
    const series = this.seriesOf(streaming ? 'bidi_stream' : 'unary', service, method);
    series.started.inc();
    const end = series.seconds.startTimer();
    return (code) => {
      end();
      series.handled(code).inc();
    };
  }

  message(service: string, method: string, direction: 'received' | 'sent'): void {
    this.seriesOf('bidi_stream', service, method)[direction].inc();
  }

  /**
   * A method's series, bound once: prom-client checks and hashes a label object on every call
   * otherwise (1.2% of the server's time under unary load, in validateLabel alone).
   */
  private seriesOf(type: string, service: string, method: string) {
    const key = `${type} ${service}/${method}`;
    let series = this.bound.get(key);
    if (!series) this.bound.set(key, (series = this.bind(type, service, method)));
    return series;
  }

  private bind(type: string, service: string, method: string) {
    const labels = { grpc_type: type, grpc_service: service, grpc_method: method };
    const codes = new Map<string, { inc(): void }>();
    return {
      started: this.started.labels(labels),
      seconds: this.seconds.labels(labels),
      received: this.received.labels(labels),
      sent: this.sent.labels(labels),
      handled: (code: string) => {
        let child = codes.get(code);
        if (!child) codes.set(code, (child = this.handled.labels({ ...labels, grpc_code: code })));
        return child;
      },
    };
  }
}
