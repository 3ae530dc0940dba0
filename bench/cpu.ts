import { readFileSync } from 'node:fs';

/**
 * CPU time of a server process while a load runs, read from /proc (Linux): the main thread on its
 * own (the event loop: HTTP, validation, answers) and the whole process (plus worker threads and
 * onnxruntime's threads). With the load generator's own CPU it tells what a figure is limited by.
 * Elsewhere than Linux the readings are absent, not zero.
 */
export interface CpuSample {
  mainMs: number;
  totalMs: number;
}

/** Clock ticks are 100 Hz on every Linux this runs on (USER_HZ). */
const TICK_MS = 10;

function ticksOf(statPath: string): number {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

export function sampleCpu(pid: number | undefined): CpuSample | undefined {
  if (pid === undefined) return undefined;
  try {
    // /proc/<pid>/stat counts every thread the process has had, ended ones too.
    return {
      mainMs: ticksOf(`/proc/${pid}/task/${pid}/stat`) * TICK_MS,
      totalMs: ticksOf(`/proc/${pid}/stat`) * TICK_MS,
    };
  } catch {
    return undefined;
  }
}

/** Cores used over `wallMs`: CPU time divided by wall time. */
export function coresBetween(before: CpuSample | undefined, after: CpuSample | undefined, wallMs: number) {
  if (!before || !after) return undefined;
  return {
    main: +((after.mainMs - before.mainMs) / wallMs).toFixed(2),
    total: +((after.totalMs - before.totalMs) / wallMs).toFixed(2),
  };
}
