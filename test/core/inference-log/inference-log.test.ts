import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InferenceLog,
  type InferenceLogOptions,
  type LogOutcome,
  type LogSink,
} from '../../../src/core/inference-log/inference-log.js';
import type { ModelSpec } from '../../../src/core/models/model-spec.js';
import type { NamedTensors } from '../../../src/core/tensors/tensor.js';

/** A sink that keeps what it is given, and can be made to fail or hang. */
class MemorySink implements LogSink {
  readonly name = 'memory';
  lines: string[] = [];
  writes = 0;
  failing = false;
  hang?: Promise<void>;
  async write(lines: string[]): Promise<void> {
    this.writes++;
    if (this.hang) await this.hang;
    if (this.failing) throw new Error('sink down');
    this.lines.push(...lines);
  }
  async close(): Promise<void> {}
}

function counting() {
  const counts: Record<LogOutcome, number> = { sent: 0, dropped: 0, failed: 0 };
  return { counts, observer: { records: (o: LogOutcome, n: number) => (counts[o] += n), queued: () => {} } };
}

const spec = (inference_log?: Record<string, unknown>) =>
  ({ name: 'iris', version: '1', config: { ...(inference_log && { inference_log }) } }) as unknown as ModelSpec;
const inputs: NamedTensors = { x: { dtype: 'float32', shape: [1, 2], data: Float32Array.of(1.5, 2) } };
const outputs: NamedTensors = {
  y: { dtype: 'int64', shape: [1], data: BigInt64Array.of(9223372036854775807n) },
  p: { dtype: 'float32', shape: [1], data: Float32Array.of(Number.NaN) },
};
const options: InferenceLogOptions = {
  defaults: { sample: 1, mode: 'all', inputs: 'tensors' },
  maxQueue: 100,
  batch: 10,
  flushMs: 5,
  attempts: 3,
  backoffMs: 1,
};
const settle = () => new Promise((r) => setTimeout(r, 50));

function predict(log: InferenceLog, id: string, model = spec()) {
  const logged = log.choose(model, inputs);
  if (logged) log.answered(logged, { id, spec: model, outputs, cached: false, latencyMs: 1.25 });
  return logged;
}

describe('the inference log', () => {
  it('writes a request and a response record per prediction, tensors exact, NaN as null', async () => {
    const sink = new MemorySink();
    const { counts, observer } = counting();
    const log = new InferenceLog(sink, options, observer, Math.random, () => Date.UTC(2026, 11, 6));
    predict(log, 'p1');
    inputs.x!.data[0] = 99; // the data plane's tensors move on; the record keeps what was asked
    await settle();
    const [request, response] = sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(request).toEqual({
      type: 'request',
      id: 'p1',
      time: '2026-12-06T00:00:00.000Z',
      model: 'iris',
      version: '1',
      inputs: [{ name: 'x', datatype: 'float32', shape: [1, 2], data: [1.5, 2] }],
    });
    expect(response).toMatchObject({ type: 'response', id: 'p1', cached: false, latency_ms: 1.25 });
    expect(sink.lines[1]).toContain('"data":[9223372036854775807]');
    expect(sink.lines[1]).toContain('"data":[null]');
    expect(counts).toEqual({ sent: 2, dropped: 0, failed: 0 });
    inputs.x!.data[0] = 1.5;
  });

  it('samples by the model.json fraction over the default, and by mode', async () => {
    const sink = new MemorySink();
    const { observer } = counting();
    let r = 0;
    const log = new InferenceLog(sink, options, observer, () => [0.1, 0.6][r++ % 2]!);
    for (let i = 0; i < 10; i++) predict(log, `a${i}`, spec({ sample: 0.5, mode: 'response' }));
    await settle();
    expect(sink.lines).toHaveLength(5);
    expect(sink.lines.every((l) => l.includes('"type":"response"'))).toBe(true);
    predict(log, 'b', spec({ mode: 'request', inputs: 'omit' }));
    await settle();
    expect(JSON.parse(sink.lines.at(-1)!)).toEqual(expect.not.objectContaining({ inputs: expect.anything() }));
  });

  it('drops and counts past the queue while the sink hangs, and never waits for it', async () => {
    const sink = new MemorySink();
    let release!: () => void;
    sink.hang = new Promise((r) => (release = r));
    const { counts, observer } = counting();
    const log = new InferenceLog(sink, { ...options, maxQueue: 20 }, observer);
    for (let i = 0; i < 50; i++) predict(log, `h${i}`); // 100 records
    await settle();
    // one batch of 10 is with the hung sink, 20 wait, the other 70 were dropped
    expect(counts.dropped).toBe(70);
    expect(log.depth).toBe(20);
    release();
    await settle();
    expect(counts).toEqual({ sent: 30, dropped: 70, failed: 0 });
  });

  it('retries a failing sink with backoff, then counts the batch failed; nothing lost when it recovers', async () => {
    const sink = new MemorySink();
    sink.failing = true;
    const { counts, observer } = counting();
    const log = new InferenceLog(sink, options, observer);
    predict(log, 'f1');
    await settle();
    expect(sink.writes).toBe(3);
    expect(counts).toEqual({ sent: 0, dropped: 0, failed: 2 });
    sink.failing = false;
    predict(log, 'f2');
    await settle();
    expect(counts.sent).toBe(2);
  });

  it('writes what is queued on close, within the grace period, and takes nothing after', async () => {
    const sink = new MemorySink();
    const log = new InferenceLog(sink, { ...options, flushMs: 60_000, batch: 1000 }, counting().observer);
    for (let i = 0; i < 30; i++) predict(log, `c${i}`);
    await log.close(1000);
    expect(sink.lines).toHaveLength(60);
    expect(predict(log, 'late')).toBeUndefined();

    const hung = new MemorySink();
    hung.hang = new Promise(() => {});
    const second = counting();
    const stuck = new InferenceLog(hung, { ...options, flushMs: 60_000, batch: 5 }, second.observer);
    for (let i = 0; i < 10; i++) predict(stuck, `s${i}`);
    const started = Date.now();
    await stuck.close(100);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(second.counts.dropped).toBe(15); // one batch of 5 is with the sink
  });

  it('redacts named features: dropped, or replaced by their keyed hash (dropped without a key)', async () => {
    const key = 'k'.repeat(32);
    const redacting = {
      name: 'credit',
      version: '2',
      featureInput: 'x',
      features: [{ name: 'age' }, { name: 'income' }],
      config: { inference_log: { redact: { age: 'drop', income: 'hash' } } },
    } as unknown as ModelSpec;
    const rows: NamedTensors = { x: { dtype: 'float32', shape: [2, 2], data: Float32Array.of(41, 52000, 23, 1800) } };
    for (const hashKey of [key, undefined]) {
      const sink = new MemorySink();
      const log = new InferenceLog(sink, { ...options, ...(hashKey && { hashKey }) }, counting().observer);
      const logged = log.choose(redacting, rows)!;
      log.answered(logged, { id: 'r', spec: redacting, outputs, cached: false, latencyMs: 1 });
      await settle();
      const request = JSON.parse(sink.lines[0]!) as { inputs: unknown[] };
      const hmac = (v: number) => createHmac('sha256', key).update(String(v)).digest('hex');
      expect(request.inputs).toEqual([
        {
          name: 'x',
          datatype: 'float32',
          shape: [2, 2],
          redacted: true,
          rows: hashKey ? [{ income: hmac(52000) }, { income: hmac(1800) }] : [{}, {}],
        },
      ]);
      expect(sink.lines[0]).not.toContain('52000');
    }
  });

  it('logs feedback as a record of its own', async () => {
    const sink = new MemorySink();
    const log = new InferenceLog(sink, options, counting().observer);
    log.feedback({ id: 'p1', row: 0, model: 'iris', version: '1', label: 'setosa', correct: true });
    await settle();
    expect(JSON.parse(sink.lines[0]!)).toMatchObject({ type: 'feedback', id: 'p1', label: 'setosa', correct: true });
  });
});
