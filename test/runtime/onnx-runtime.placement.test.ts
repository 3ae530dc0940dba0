import { describe, expect, it } from 'vitest';
import { passesTrial, placementOf } from '../../src/runtime/onnx-runtime.js';

/** Runs measured on the workers: `runs` runs of `rowsPerRun` rows, µs of compute and of hand-off per run. */
const measured = (runs: number, rowsPerRun: number, computeMicros: number, hopMicros: number) => ({
  runs,
  rows: runs * rowsPerRun,
  seconds: (runs * computeMicros) / 1e6,
  runSeconds: Array.from({ length: runs }, () => computeMicros / 1e6),
  hopSeconds: Array.from({ length: runs }, () => hopMicros / 1e6),
});

describe('where a model runs, from its runs on the workers', () => {
  it('moves a model whose rows are under INLINE_MAX_ROW_MICROS, whatever its hand-off', () => {
    expect(placementOf(measured(20, 8, 200, 10), 50)).toBe('inline'); // 25 µs a row
  });

  it('tries the main thread for a model whose one-row runs are above the bound but cost less than their hand-off', () => {
    // iris on this machine: 60-250 µs a one-row run on a cold, lower-priority worker; 100-400 µs of hand-off
    expect(placementOf(measured(20, 1, 80, 300), 50)).toBe('trial');
  });

  it('judges by the median run: a first run that loaded the session on a worker does not make a heavy model look tiny', () => {
    const heavy = measured(20, 1, 30_000, 200);
    heavy.hopSeconds[0] = 2; // the worker loaded the session before the first run
    expect(placementOf(heavy, 50)).toBe('workers');
  });

  it('keeps on the workers a model whose runs cost more than their hand-off', () => {
    expect(placementOf(measured(20, 1, 900, 300), 50)).toBe('workers');
    expect(placementOf(measured(20, 4, 400, 120), 50)).toBe('workers');
  });

  it('keeps a model on trial only when its runs there were quicker than a worker round trip and under 1 ms a row', () => {
    const trial = (runs: number, rowsPerRun: number, micros: number, workerRunMicros: number) => ({
      runs,
      rows: runs * rowsPerRun,
      seconds: (runs * micros) / 1e6,
      workerRunSeconds: workerRunMicros / 1e6,
    });
    expect(passesTrial(trial(50, 1, 40, 380))).toBe(true);
    expect(passesTrial(trial(50, 1, 400, 380))).toBe(false); // slower than the round trip it saves
    expect(passesTrial(trial(50, 1, 1500, 30_000))).toBe(false); // quicker, but holds the event loop too long
  });
});
