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
    const labels = { grpc_type: streaming ? 'bidi_stream' : 'unary', grpc_service: service, grpc_method: method };
    this.started.inc(labels);
    const end = this.seconds.startTimer(labels);
    return (code) => {
      end();
      this.handled.inc({ ...labels, grpc_code: code });
    };
  }

  message(service: string, method: string, direction: 'received' | 'sent'): void {
    const labels = { grpc_type: 'bidi_stream', grpc_service: service, grpc_method: method };
    (direction === 'received' ? this.received : this.sent).inc(labels);
  }
}
