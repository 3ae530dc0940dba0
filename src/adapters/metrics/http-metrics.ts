import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS } from './buckets.js';

/**
 * The methods a `method` label may hold; any other (PROPFIND, MKCOL, a client's own) is `other`, so
 * no client can add series by inventing methods. Unmatched URLs share one route label the same way.
 */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** What every HTTP request costs, labelled by route template (never the raw URL), and readiness. */
export class HttpMetrics {
  private readonly duration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly inFlight: Gauge;
  private readonly errors: Counter<'status_class' | 'code'>;

  constructor(registry: Registry, ready: () => boolean) {
    const registers = [registry];
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests received and not yet answered (this scrape included).',
      registers,
    });
    this.errors = new Counter({
      name: 'http_request_errors_total',
      help: 'Error answers by status class (4xx, 5xx) and stable error code.',
      labelNames: ['status_class', 'code'] as const,
      registers,
    });
    new Gauge({
      name: 'ml_service_ready',
      help: '1 when /ready answers 200.',
      registers,
      collect() {
        this.set(ready() ? 1 : 0);
      },
    });
  }

  started(): void {
    this.inFlight.inc();
  }

  /** The request's connection is done with it: answered, or closed by a client that gave up mid-body. */
  ended(): void {
    this.inFlight.dec();
  }

  finished(method: string, route: string, statusCode: number, seconds: number): void {
    this.duration.observe(
      { method: METHODS.has(method) ? method : 'other', route, status_code: String(statusCode) },
      seconds,
    );
  }

  error(statusCode: number, code: string): void {
    this.errors.inc({ status_class: `${Math.floor(statusCode / 100)}xx`, code });
  }
}
