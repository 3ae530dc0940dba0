import { describe, expect, it } from 'vitest';
import { IdleRecycler } from '../../src/runtime/idle-recycler.js';

const MiB = 1024 ** 2;

/** The pool's counters, the clock and the RSS, all in the test's hands. */
function setup(idleMs = 40_000) {
  const state = { started: 0, running: 0, now: 0, rss: 200 * MiB, recycles: 0, fail: false, decline: false };
  const recycler = new IdleRecycler({
    idleMs,
    activity: () => state,
    now: () => state.now,
    rss: () => state.rss,
    recycle: async () => {
      if (state.fail) throw new Error('no fresh worker');
      if (state.decline) return false;
      state.recycles++;
      state.rss = 210 * MiB; // what the fresh workers hold
      return true;
    },
    onError: () => {},
  });
  /** A burst: inference runs, RSS grows, then the pool is idle from `at` on. */
  const burst = async (at: number, rss = 500 * MiB) => {
    state.now = at;
    state.started += 10;
    state.running = 0;
    state.rss = rss;
    await recycler.tick();
  };
  const at = async (ms: number) => {
    state.now = ms;
    return recycler.tick();
  };
  return { state, recycler, burst, at };
}

describe('IdleRecycler', () => {
  it('recycles once the pool has been idle idleMs after a burst that grew RSS, and not again until the next one', async () => {
    const { state, burst, at } = setup();
    await burst(1_000);
    expect(await at(20_000)).toBe(false);
    expect(await at(40_999)).toBe(false);
    expect(await at(41_000)).toBe(true);
    expect(state.recycles).toBe(1);
    expect(await at(100_000)).toBe(false); // idle since, nothing ran
    await burst(200_000, 600 * MiB);
    expect(await at(240_000)).toBe(true);
    expect(state.recycles).toBe(2);
  });

  it('does not recycle while a task runs or tasks keep starting', async () => {
    const { state, burst, at } = setup();
    await burst(0);
    state.running = 1;
    expect(await at(60_000)).toBe(false);
    state.running = 0;
    for (let t = 61_000; t < 200_000; t += 30_000) {
      state.started++;
      expect(await at(t)).toBe(false);
    }
    expect(state.recycles).toBe(0);
  });

  it('does not recycle when RSS is within a tenth of its level at rest: nothing to give back', async () => {
    const { state, burst, at } = setup();
    await at(1_000); // at rest: 200 MiB
    await burst(2_000, 219 * MiB);
    expect(await at(60_000)).toBe(false);
    await burst(70_000, 221 * MiB);
    expect(await at(120_000)).toBe(true);
    expect(state.recycles).toBe(1);
  });

  it('measures growth from what the fresh workers hold, not from start: a lull after no growth recycles nothing', async () => {
    const { state, burst, at } = setup();
    await burst(0);
    expect(await at(40_000)).toBe(true); // RSS now 210 MiB
    await burst(50_000, 225 * MiB); // under 1.1 x 210
    expect(await at(100_000)).toBe(false);
    expect(state.recycles).toBe(1);
  });

  it('a failed recycle is reported, not thrown, and is tried again after the next burst', async () => {
    const { state, burst, at } = setup();
    state.fail = true;
    await burst(0);
    expect(await at(40_000)).toBe(false);
    expect(await at(80_000)).toBe(false); // not retried in a loop while idle
    state.fail = false;
    await burst(90_000);
    expect(await at(130_000)).toBe(true);
  });

  it('a recycle that declined (a model file changed) keeps the rest level, so the next burst still recycles', async () => {
    const { state, burst, at } = setup();
    state.decline = true;
    await burst(0);
    expect(await at(40_000)).toBe(false);
    state.decline = false;
    await burst(50_000, 300 * MiB); // over 1.1 x 200, not over 1.1 x 500
    expect(await at(90_000)).toBe(true);
  });

  it('never runs two recycles at once', async () => {
    let finish = () => {};
    let calls = 0;
    const state = { started: 5, running: 0 };
    let now = 0;
    let rss = 500 * MiB;
    const recycler = new IdleRecycler({
      idleMs: 1_000,
      activity: () => state,
      now: () => now,
      rss: () => rss,
      recycle: () => {
        calls++;
        return new Promise<boolean>((resolve) => (finish = () => resolve(true)));
      },
    });
    rss = 100 * MiB; // at rest
    await recycler.tick();
    now = 500;
    await recycler.tick();
    rss = 500 * MiB;
    now = 2_000;
    const first = recycler.tick();
    state.started++;
    await recycler.tick();
    now = 4_000;
    expect(await recycler.tick()).toBe(false);
    finish();
    expect(await first).toBe(true);
    expect(calls).toBe(1);
  });
});
