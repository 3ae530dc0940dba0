import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * CPUs this process may use: the cgroup v2 quota when one is set (a Kubernetes CPU limit),
 * otherwise the cores the scheduler gives us. os.availableParallelism() alone ignores the quota,
 * so a pod limited to 1 CPU on a 64-core node would start 64 workers.
 */
export function cpuBudget(cpuMaxFile = '/sys/fs/cgroup/cpu.max'): number {
  const cores = availableParallelism();
  try {
    const [quota, period] = readFileSync(cpuMaxFile, 'utf8').trim().split(/\s+/);
    if (quota === undefined || quota === 'max' || period === undefined) return cores;
    const limit = Math.ceil(Number(quota) / Number(period));
    return Number.isFinite(limit) && limit >= 1 ? Math.min(cores, limit) : cores;
  } catch {
    return cores;
  }
}
