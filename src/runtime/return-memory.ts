import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Gives the memory a burst left behind back to the OS, once the inference workers have been
 * replaced (src/runtime/idle-recycler.ts). Measured in docs/reliability.md#memory-bounds: without
 * either step most of what the old workers and the burst's bodies held stays resident.
 *
 * 1. A full garbage collection on the main thread. An idle V8 heap does not collect, so the
 *    request bodies of a burst (Buffers, malloc'd outside the heap) stay allocated until the next
 *    traffic grows the heap: 150 MiB after 32 bodies of 4 MiB.
 * 2. glibc's malloc_trim(0). Freed blocks go back to the allocator's arenas, which return only
 *    the free space at the top of a heap; malloc_trim returns every free page in every arena.
 *    Called through koffi (prebuilt binaries from npm, nothing compiled); where there is no glibc
 *    (musl, macOS) this step is skipped.
 */
export async function returnMemory(): Promise<void> {
  collectGarbage();
  (await mallocTrim())?.(0);
}

let gc: (() => void) | undefined;
function collectGarbage(): void {
  if (!gc) {
    // Without --expose-gc on the command line: the flag exposes gc() to contexts created after it.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

let trim: Promise<((pad: number) => number) | undefined> | undefined;
/** Loaded on first use: a server that never recycles never loads koffi. */
function mallocTrim() {
  trim ??= (async () => {
    if (process.platform !== 'linux') return undefined;
    try {
      const { default: koffi } = await import('koffi');
      return koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as (pad: number) => number;
    } catch {
      return undefined; // not glibc
    }
  })();
  return trim;
}
