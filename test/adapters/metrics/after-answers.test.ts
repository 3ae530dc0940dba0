import { describe, expect, it } from 'vitest';
import { AfterAnswers } from '../../../src/adapters/metrics/after-answers.js';
import { Metrics } from '../../../src/adapters/metrics/metrics.js';

describe('metric updates after the answers', () => {
  it('runs nothing on the way, then every update in order once the loop turns', async () => {
    const after = new AfterAnswers();
    const seen: number[] = [];
    after.run(() => seen.push(1));
    after.run(() => seen.push(2));
    expect(seen).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([1, 2]);
    after.run(() => seen.push(3)); // a later turn schedules again
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([1, 2, 3]);
  });

  it('a scrape right after a prediction counts it: render() runs what is pending first', async () => {
    const metrics = new Metrics(
      () => [],
      () => true,
    );
    metrics.predictions.prediction({ model: 'iris', version: '1', status: 'success', seconds: 0.002, rows: 3 });
    metrics.predictions.inferenceCost('iris', '1', 0.001);
    metrics.batching.batch('iris', '1', 3, 1);
    metrics.batching.queueWait('iris', '1', 0.0001);
    const text = await metrics.render();
    expect(text).toContain('ml_predictions_total{model="iris",version="1",status="success"} 1');
    expect(text).toContain('ml_prediction_rows_total{model="iris",version="1"} 3');
    expect(text).toContain('ml_inference_cpu_seconds_total{model="iris",version="1"} 0.001');
    expect(text).toContain('ml_batch_size_rows_count{model="iris",version="1"} 1');
    expect(text).toContain('ml_queue_wait_seconds_count{model="iris",version="1"} 1');
  });
});
