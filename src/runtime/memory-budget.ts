import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/**
 * Bytes of memory this process may use: the cgroup's limit when one is set (a Kubernetes memory
 * limit; v2 memory.max, else v1 memory.limit_in_bytes), otherwise the machine's memory.
 */
export function memoryBudget(
  files = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'],
): number {
  const machine = totalmem();
  for (const file of files) {
    try {
      const limit = Number(readFileSync(file, 'utf8').trim()); // "max" is NaN: no limit at this level
      if (Number.isFinite(limit) && limit > 0) return Math.min(limit, machine);
    } catch {
      // not this cgroup version
    }
  }
  return machine;
}

/**
 * How much of the pod's memory in-flight requests may hold, by default (docs/deployment.md#memory):
 * bodies are bounded to 1/32 of it, because a body costs several times its size once parsed and
 * decoded; rows to one per 64 KiB of it. Never below one request's own limits, so a request the
 * per-request limits accept can always be admitted once the others have finished.
 */
export const INFLIGHT_BYTES_SHARE = 32;
export const MEMORY_PER_INFLIGHT_ROW = 64 * 1024;

export interface InflightSettings {
  BODY_LIMIT_BYTES: number;
  MAX_REQUEST_ROWS: number;
  MAX_INFLIGHT_BYTES?: number;
  MAX_INFLIGHT_ROWS?: number;
}

/** The in-flight caps: as set, or derived from the memory budget; a set cap below one request's limit is an issue. */
export function inflightLimits(
  settings: InflightSettings,
  memory: number,
): { MAX_INFLIGHT_BYTES: number; MAX_INFLIGHT_ROWS: number; issues: string[] } {
  const issues: string[] = [];
  if (settings.MAX_INFLIGHT_BYTES !== undefined && settings.MAX_INFLIGHT_BYTES < settings.BODY_LIMIT_BYTES) {
    issues.push(
      `MAX_INFLIGHT_BYTES=${settings.MAX_INFLIGHT_BYTES}: below BODY_LIMIT_BYTES (${settings.BODY_LIMIT_BYTES}), a body the limit accepts could never be admitted`,
    );
  }
  if (settings.MAX_INFLIGHT_ROWS !== undefined && settings.MAX_INFLIGHT_ROWS < settings.MAX_REQUEST_ROWS) {
    issues.push(
      `MAX_INFLIGHT_ROWS=${settings.MAX_INFLIGHT_ROWS}: below MAX_REQUEST_ROWS (${settings.MAX_REQUEST_ROWS}), a request the row cap accepts could never be admitted`,
    );
  }
  return {
    MAX_INFLIGHT_BYTES:
      settings.MAX_INFLIGHT_BYTES ?? Math.max(settings.BODY_LIMIT_BYTES, Math.floor(memory / INFLIGHT_BYTES_SHARE)),
    MAX_INFLIGHT_ROWS:
      settings.MAX_INFLIGHT_ROWS ?? Math.max(settings.MAX_REQUEST_ROWS, Math.floor(memory / MEMORY_PER_INFLIGHT_ROW)),
    issues,
  };
}
