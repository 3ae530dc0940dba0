import { HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startApp } from '../helpers/app.js';
import { HttpReceiver } from '../helpers/http-receiver.js';

/** The events an HttpReceiver took, parsed by the cloudevents SDK (a batch is several). */
function eventsOf(receiver: HttpReceiver) {
  return receiver.received.flatMap(({ headers, body }) => {
    const event = HTTP.toEvent({ headers, body });
    return (Array.isArray(event) ? event : [event]).map((one) => ({
      type: one.type,
      id: one.id,
      source: one.source,
      data: (typeof one.data === 'string' ? JSON.parse(one.data) : one.data) as Record<string, unknown>,
      ext: { model: one.inferenceservicename, version: one.modelversion },
    }));
  });
}

describe('the inference log as CloudEvents (KServe logger format) to a real HTTP collector', () => {
  let collector: HttpReceiver;
  let url: string;
  beforeAll(async () => {
    collector = await HttpReceiver.start();
    url = collector.url('/events');
  });
  afterAll(() => collector.stop());

  it('posts a request and a response event per prediction, in binary mode, and feedback; a failing collector costs clients nothing', async () => {
    const app = await startApp({
      INFERENCE_LOG: 'cloudevents',
      INFERENCE_LOG_URL: url,
      INFERENCE_LOG_SOURCE: 'onnx-serve/test',
      INFERENCE_LOG_ATTEMPTS: '2',
      INFERENCE_LOG_BACKOFF_MS: '10',
      CACHE_ENABLED: 'false',
    });
    try {
      const { body } = await postJson(app, '/predict', { model: 'iris', instances: [[5.1, 3.5, 1.4, 0.2]] });
      const { id, predictions } = body as { id: string; predictions: { label: string }[] };
      await postJson(app, '/feedback', { id, label: predictions[0]!.label });
      await expect.poll(() => eventsOf(collector).length, { timeout: 5000 }).toBe(3);
      const events = eventsOf(collector);
      expect(events.map((e) => e.type).sort()).toEqual([
        'org.kubeflow.serving.inference.feedback',
        'org.kubeflow.serving.inference.request',
        'org.kubeflow.serving.inference.response',
      ]);
      for (const event of events) {
        expect(event).toMatchObject({ id, source: 'onnx-serve/test', ext: { model: 'iris', version: '1' } });
        expect(event.data).toMatchObject({ id, model: 'iris', version: '1' });
      }
      const request = events.find((e) => e.type.endsWith('.request'))!;
      expect((request.data.inputs as { shape: number[] }[])[0]!.shape).toEqual([1, 4]);

      collector.status = 503;
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          postJson(app, '/predict', { model: 'iris', instances: [[6.1, 2.8, 4.7, 1.2]] }),
        ),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      const failed = async () =>
        Number(
          /ml_inference_log_records_total\{outcome="failed"\} (\d+)/.exec((await app.inject('/metrics')).body)?.[1],
        );
      await expect.poll(failed, { timeout: 5000 }).toBe(40);
    } finally {
      collector.status = 202;
      await app.close();
    }
  });

  it('in batch mode, posts each batch as one JSON array of structured events, the same events', async () => {
    collector.received = [];
    const app = await startApp({
      INFERENCE_LOG: 'cloudevents',
      INFERENCE_LOG_URL: url,
      INFERENCE_LOG_CE_MODE: 'batch',
      INFERENCE_LOG_FLUSH_MS: '50',
      CACHE_ENABLED: 'false',
    });
    const ids: string[] = [];
    try {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          postJson(app, '/predict', { model: 'iris', instances: [[5 + i / 10, 3.5, 1.4, 0.2]] }),
        ),
      );
      for (const { body } of answers) ids.push((body as { id: string }).id);
      await expect.poll(() => eventsOf(collector).length, { timeout: 5000 }).toBe(20);
    } finally {
      await app.close();
    }
    // 20 records in a batch or two, not 20 POSTs
    const posts = collector.received.map((r) => r.headers['content-type']);
    expect(posts.length).toBeLessThanOrEqual(2);
    expect(new Set(posts)).toEqual(new Set(['application/cloudevents-batch+json']));
    const all = eventsOf(collector);
    for (const id of ids) {
      const events = all.filter((e) => e.id === id);
      expect(events.map((e) => e.type).sort()).toEqual([
        'org.kubeflow.serving.inference.request',
        'org.kubeflow.serving.inference.response',
      ]);
      for (const event of events) {
        expect(event).toMatchObject({ source: 'onnx-serve', ext: { model: 'iris', version: '1' } });
        expect(event.data).toMatchObject({ id, model: 'iris', version: '1' });
      }
    }
  });
});
