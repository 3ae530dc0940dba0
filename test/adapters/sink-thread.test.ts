import { execFile } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SinkThread } from '../../src/adapters/inference-log/sink-thread.js';

const line = (i: number) =>
  `{"type":"request","id":"id-${i}","time":"2026-12-07T05:00:00.000Z","model":"iris","version":"1"}`;

/** The nice value of every thread of this process: field 19 of /proc/self/task/<tid>/stat. */
const niceValues = () =>
  readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });

describe('SinkThread: a sink run on a thread of its own', () => {
  let dir: string;
  let thread: SinkThread | undefined;
  afterEach(async () => {
    await thread?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const linesIn = () => readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));

  it('writes what it is given through the sink, on a thread below the event loop', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sink-thread-'));
    const before = niceValues().filter((n) => n === 13).length;
    thread = new SinkThread({ kind: 'jsonl', dir, maxBytes: 1024 ** 2 }, 13);
    await thread.write([line(1), line(2)]);
    await thread.write([line(3)]);
    expect(linesIn()).toEqual([line(1), line(2), line(3)]);
    // the thread, and on Node 24 threads it starts, which inherit its priority
    expect(niceValues().filter((n) => n === 13).length - before).toBeGreaterThanOrEqual(1);
    expect(niceValues()[0]).toBe(0);
  });

  it("fails a write the sink refuses with the sink's message", async () => {
    dir = mkdtempSync(join(tmpdir(), 'sink-thread-'));
    // a directory that cannot be made: under a file
    thread = new SinkThread({ kind: 'jsonl', dir: join(dir, 'file', 'below'), maxBytes: 1024 }, 0);
    writeFileSync(join(dir, 'file'), '');
    await expect(thread.write([line(1)])).rejects.toThrow(/ENOTDIR|EEXIST/);
  });

  it('fails the calls a dying thread held, and starts another for the next', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sink-thread-'));
    // A collector that never answers: a call stays held until the thread dies
    const held: ServerResponse[] = [];
    const collector = createServer((_req, res) => void held.push(res));
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`;
    try {
      thread = new SinkThread({ kind: 'cloudevents', url, source: 'test', timeoutMs: 60_000, mode: 'batch' }, 0);
      const first = thread.write([line(1)]);
      await expect.poll(() => held.length).toBe(1);
      const worker = (thread as unknown as { worker: { terminate(): Promise<number> } }).worker;
      await worker.terminate();
      await expect(first).rejects.toThrow(/sink thread exited/);
      void thread.write([line(2)]).catch(() => undefined);
      await expect.poll(() => held.length, { timeout: 5000 }).toBe(2);
    } finally {
      collector.closeAllConnections();
      collector.close();
    }
  });

  it('lets the process exit once its calls are answered, without being closed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sink-thread-'));
    const script = [
      `import { SinkThread } from ${JSON.stringify(new URL('../../src/adapters/inference-log/sink-thread.ts', import.meta.url).pathname)};`,
      `const thread = new SinkThread({ kind: 'jsonl', dir: ${JSON.stringify(dir)}, maxBytes: 1024 }, 0);`,
      `await thread.write([${JSON.stringify(line(1))}]);`,
    ].join('\n');
    const file = join(tmpdir(), `sink-thread-exit-${process.pid}.mts`);
    writeFileSync(file, script);
    try {
      // Resolves only if the child exits by itself: a thread holding it open would hit the timeout
      await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { timeout: 20_000 });
    } finally {
      rmSync(file, { force: true });
    }
    expect(linesIn()).toEqual([line(1)]);
  });
});
