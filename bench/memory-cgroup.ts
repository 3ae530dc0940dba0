import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A memory cgroup with a pod's limit, for running the server as Kubernetes would bound it. cgroup
 * v1 (`/sys/fs/cgroup/memory`) or v2 (`/sys/fs/cgroup` with the memory controller); needs root.
 * Undefined where neither can be made, and the caller says the run was unbounded.
 */
export interface MemoryCgroup {
  /** Put before node's command line: the process enters the cgroup, then execs node. */
  prefix: string[];
  /** The most the cgroup's processes have held (page cache included), in bytes. */
  peakBytes(): number;
  /** Processes killed by the kernel for going over the limit. */
  oomKills(): number;
  remove(): void;
}

export function memoryCgroup(name: string, limitBytes: number): MemoryCgroup | undefined {
  const v1 = '/sys/fs/cgroup/memory';
  const v2 = '/sys/fs/cgroup';
  try {
    if (existsSync(join(v1, 'memory.limit_in_bytes'))) {
      const dir = join(v1, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
      return cgroup(dir, 'memory.max_usage_in_bytes', () =>
        Number(/oom_kill (\d+)/.exec(read(dir, 'memory.oom_control'))?.[1] ?? 0),
      );
    }
    if (read(v2, 'cgroup.controllers').includes('memory')) {
      const dir = join(v2, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.max'), String(limitBytes));
      return cgroup(dir, 'memory.peak', () => Number(/oom_kill (\d+)/.exec(read(dir, 'memory.events'))?.[1] ?? 0));
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function cgroup(dir: string, peakFile: string, oomKills: () => number): MemoryCgroup {
  return {
    prefix: ['sh', '-c', `echo $$ > ${join(dir, 'cgroup.procs')} && exec "$0" "$@"`],
    peakBytes: () => Number(read(dir, peakFile)),
    oomKills,
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // still has a process (a server that did not exit): the next run reuses it
      }
    },
  };
}

function read(dir: string, file: string): string {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch {
    return '';
  }
}
