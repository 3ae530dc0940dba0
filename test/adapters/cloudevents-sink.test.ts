import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudEventsSink } from '../../src/adapters/inference-log/cloudevents-sink.js';

const line = (i: number) =>
  `{"type":"response","id":"id-${i}","time":"2026-12-07T05:00:00.000Z","model":"iris","version":"1","cached":false}`;

/** A collector that takes requests and never answers them (a frozen broker), counting them. */
async function frozenCollector() {
  const held: ServerResponse[] = [];
  const server = createServer((_req, res) => void held.push(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    held,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('CloudEventsSink in binary mode against a collector that never answers', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(() => stop?.());

  it('fails the batch within its timeout, and withdraws the events not yet sent instead of sending them later', async () => {
    const collector = await frozenCollector();
    stop = collector.stop;
    const sink = new CloudEventsSink(collector.url, 'test', 300, 'binary');
    const started = Date.now();
    await expect(sink.write(Array.from({ length: 100 }, (_, i) => line(i)))).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(3000);
    // One event a connection reached the collector; the other 92 were withdrawn with the batch
    const reached = collector.held.length;
    expect(reached).toBeGreaterThan(0);
    expect(reached).toBeLessThanOrEqual(8);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(collector.held.length).toBe(reached);
    await sink.close();
  });
});
