import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/**
 * How busy the main thread's event loop is, beside prom-client's lag and GC metrics
 * (nodejs_eventloop_lag_*_seconds, nodejs_gc_duration_seconds): the fraction of the time since the
 * last scrape it spent running callbacks rather than waiting. Near 1, every request queues behind
 * others' work, probes included.
 */
export class EventLoopMetrics {
  constructor(registry: Registry) {
    let last: EventLoopUtilization = performance.eventLoopUtilization();
    new Gauge({
      name: 'nodejs_eventloop_utilization_ratio',
      help: 'Fraction of the time since the previous scrape the event loop spent running callbacks (1 = never idle).',
      registers: [registry],
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, last).utilization);
        last = now;
      },
    });
  }
}
