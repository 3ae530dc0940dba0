import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_MODELS } from '../helpers/app.js';
import { ServerProcess } from '../helpers/server-process.js';

const FEATURES = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
// Repeated rows: every request after the first is a cache hit, answered in the event loop's check phase.
const BIG = JSON.stringify({ model: 'iris', instances: Array.from({ length: 2000 }, () => Object.values(FEATURES)) });

const post = async (url: string, body: string) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: response.status, body: (await response.json()) as { id: string; code?: string } };
};

/**
 * A client may send the ground truth the moment it has the answer (a labelling UI, a test). The
 * prediction must be there to join it to, even when the server is busy: the record was written a
 * turn of the event loop after the answer, so under load a feedback read in between was refused
 * 404 UNKNOWN_PREDICTION (a third of them, iris with 8 clients).
 */
describe('feedback sent as soon as the answer arrives', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await ServerProcess.start({ MODEL_DIR: BUNDLED_MODELS, INFERENCE_WORKERS: '1' });
    await server.waitUntilReady();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('finds its prediction, with the server busy answering other requests', async () => {
    let done = false;
    const busy = async () => {
      while (!done) expect((await post(`${server.url}/predict`, BIG)).status).toBe(200);
    };
    const statuses: Record<string, number> = {};
    const labeller = async () => {
      for (let i = 0; i < 60; i++) {
        const answer = await post(`${server.url}/predict`, JSON.stringify({ model: 'iris', features: FEATURES }));
        expect(answer.status).toBe(200);
        const feedback = await post(`${server.url}/feedback`, JSON.stringify({ id: answer.body.id, label: 'setosa' }));
        const key = `${feedback.status} ${feedback.body.code ?? ''}`.trim();
        statuses[key] = (statuses[key] ?? 0) + 1;
      }
    };
    const busyClients = Array.from({ length: 2 }, busy);
    await Promise.all(Array.from({ length: 6 }, labeller));
    done = true;
    await Promise.all(busyClients);
    expect(statuses).toEqual({ 200: 360 });
  }, 120_000);
});
