import { Counter, Gauge, type Registry } from 'prom-client';
import type { InflightObserver, InflightResource } from '../../core/serving/inflight-limiter.js';

type Source = () => { held: Record<InflightResource, number>; limits: Record<InflightResource, number> };

/** The memory bounds on requests in flight: what is held, the caps, and the requests refused at a cap. */
export class InflightMetrics implements InflightObserver {
  private readonly rejections: Counter<'resource'>;
  private source?: Source;

  constructor(registry: Registry) {
    const registers = [registry];
    this.rejections = new Counter({
      name: 'ml_inflight_rejected_total',
      help: 'Requests refused with 503 SERVER_BUSY because the in-flight cap on body bytes or decoded rows was full.',
      labelNames: ['resource'] as const,
      registers,
    });
    for (const resource of ['bytes', 'rows'] as const) this.rejections.inc({ resource }, 0);
    const source = () => this.source?.();
    const gauges = [
      ['ml_inflight_held', 'Request body bytes and decoded rows held by requests in flight now.', 'held'],
      ['ml_inflight_limit', 'The in-flight caps (MAX_INFLIGHT_BYTES, MAX_INFLIGHT_ROWS).', 'limits'],
    ] as const;
    for (const [name, help, field] of gauges) {
      new Gauge({
        name,
        help,
        labelNames: ['resource'] as const,
        registers,
        collect() {
          const values: Record<string, number> = source()?.[field] ?? {};
          for (const [resource, value] of Object.entries(values)) this.set({ resource }, value);
        },
      });
    }
  }

  /** Where the gauges read from, once the limiter exists. */
  watch(source: Source): void {
    this.source = source;
  }

  rejected(resource: InflightResource): void {
    this.rejections.inc({ resource });
  }
}
