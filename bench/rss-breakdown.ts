import { readFileSync } from 'node:fs';

/**
 * Where a process's resident memory is, in MiB, from /proc/PID/smaps: glibc's main heap ([heap],
 * brk), glibc's other arenas (their heaps start on a 64 MiB boundary), other anonymous mappings of
 * 1 MiB or more (malloc's mmapped blocks, onnxruntime's arena regions, V8's large objects) and
 * below (V8's 256 KiB pages, stacks), onnxruntime's library and the other files. A heuristic for
 * bench/memory.ts (MEMORY_DIAG=1), not an exact attribution: glibc's arenas are shared by threads.
 */
export function rssBreakdown(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = '';
  let sizeKiB = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [, start, perms, name = ''] = head;
      const arenaAligned = BigInt(`0x${start}`) % (64n << 20n) === 0n && perms!.startsWith('rw');
      kind =
        name === '[heap]'
          ? 'glibc main heap'
          : name.includes('libonnxruntime')
            ? 'libonnxruntime'
            : name.startsWith('/')
              ? 'other files'
              : name.startsWith('[')
                ? 'other'
                : arenaAligned
                  ? 'glibc thread arenas'
                  : '';
      continue;
    }
    const field = /^(Size|Rss):\s+(\d+) kB/.exec(line);
    if (field?.[1] === 'Size') sizeKiB = Number(field[2]);
    if (field?.[1] !== 'Rss') continue;
    const k = kind || (sizeKiB >= 1024 ? 'anon >= 1 MiB' : 'anon < 1 MiB');
    out[k] = (out[k] ?? 0) + Number(field[2]) / 1024;
  }
  for (const k of Object.keys(out)) out[k] = Math.round(out[k]!);
  return out;
}
