import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startApp } from '../helpers/app.js';

/** An HTTP collector: every event it is sent, parsed by the cloudevents SDK; it can be told to fail. */
class Collector {
  events: { type: string; id: string; source: string; data: Record<string, unknown>; ext: Record<string, unknown> }[] =
    [];
  status = 202;
  /** Each POST's content-type. */
  posts: string[] = [];
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.status < 300) {
          this.posts.push(String(req.headers['content-type']));
          const event = HTTP.toEvent({
            headers: req.headers,
            body: Buffer.concat(chunks).toString(),
          });
          for (const one of Array.isArray(event) ? event : [event]) {
            const data = typeof one.data === 'string' ? JSON.parse(one.data) : one.data;
            this.events.push({
              type: one.type,
              id: one.id,
              source: one.source,
              data: data as Record<string, unknown>,
              ext: { model: one.inferenceservicename, version: one.modelversion },
            });
          }
        }
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

describe('the inference log as CloudEvents (KServe logger format) to a real HTTP collector', () => {
  const collector = new Collector();
  let url: string;
  beforeAll(async () => (url = await collector.start()));
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
      await expect.poll(() => collector.events.length, { timeout: 5000 }).toBe(3);
      expect(collector.events.map((e) => e.type).sort()).toEqual([
        'org.kubeflow.serving.inference.feedback',
        'org.kubeflow.serving.inference.request',
        'org.kubeflow.serving.inference.response',
      ]);
      for (const event of collector.events) {
        expect(event).toMatchObject({ id, source: 'onnx-serve/test', ext: { model: 'iris', version: '1' } });
        expect(event.data).toMatchObject({ id, model: 'iris', version: '1' });
      }
      const request = collector.events.find((e) => e.type.endsWith('.request'))!;
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
    collector.events = [];
    collector.posts = [];
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
      await expect.poll(() => collector.events.length, { timeout: 5000 }).toBe(20);
    } finally {
      await app.close();
    }
    // 20 records in a batch or two, not 20 POSTs
    expect(collector.posts.length).toBeLessThanOrEqual(2);
    expect(new Set(collector.posts)).toEqual(new Set(['application/cloudevents-batch+json']));
    for (const id of ids) {
      const events = collector.events.filter((e) => e.id === id);
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
