/**
 * npx tsx bench/traffic-split.ts: what choosing a split's variant costs per request (µs per call,
 * after a warm-up), and what the hash under it costs against the alternatives:
 *   - assign() with a key for 2, 3 and 4 variants, and without a key;
 *   - one 53-bit value from key+variant: xxhash-wasm's h64 (what the split uses), node:crypto's
 *     one-shot hash('sha256') and createHash('sha256').
 * Keys are 10,000 distinct user ids, walked in turn, so no call repeats its predecessor's input.
 */
import { createHash, hash } from 'node:crypto';
import xxhash from 'xxhash-wasm';
import { compileSplit } from '../src/core/experiments/traffic-split.js';

const calls = Number(process.env.SPLIT_CALLS ?? 500_000);
const keys = Array.from({ length: 10_000 }, (_, i) => `user-${(i * 7919).toString(36)}-${i}`);

/** µs per call of fn(key), after as many unmeasured calls to warm the JIT. */
function micros(fn: (key: string) => unknown): number {
  let sink = 0;
  const run = () => {
    for (let i = 0; i < calls; i++) if (fn(keys[i % keys.length]!)) sink++;
  };
  run();
  const started = performance.now();
  run();
  const elapsed = performance.now() - started;
  if (sink < 0) console.log(sink);
  return +((elapsed * 1000) / calls).toFixed(3);
}

const splits = {
  2: compileSplit([{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }], { salt: 'fraud' }),
  3: compileSplit([{ name: 'v1', weight: 80 }, { name: 'v2', weight: 10 }, { name: 'v3', weight: 10 }], { salt: 'fraud' }),
  4: compileSplit([{ name: 'v1', weight: 70 }, { name: 'v2', weight: 10 }, { name: 'v3', weight: 10 }, { name: 'v4', weight: 10 }], { salt: 'fraud' }),
};

const { h64 } = await xxhash();
const seed = h64('fraud\u0000v2');
const hashes = {
  'xxhash-wasm h64(key, seed)': (key: string) => Number(h64(key, seed) >> 11n),
  "crypto.hash('sha256', key+name)": (key: string) => hash('sha256', `${key}\u0000v2`, 'buffer').readUIntBE(0, 6),
  "crypto.createHash('sha256')": (key: string) => createHash('sha256').update(`${key}\u0000v2`).digest().readUIntBE(0, 6),
};

const rows: [string, number][] = [];
for (const [n, split] of Object.entries(splits)) rows.push([`assign(key), ${n} variants`, micros((k) => split.assign(k))]);
rows.push(['assign() without a key, 4 variants', micros(() => splits[4].assign())]);
for (const [name, fn] of Object.entries(hashes)) rows.push([`one hash: ${name}`, micros(fn)]);

const xx = rows.find(([name]) => name.startsWith('one hash: xxhash'))![1];
console.log(`node ${process.version}, ${calls} calls each\n`);
console.log('what'.padEnd(44), 'µs/call', '  × xxhash-wasm');
for (const [name, us] of rows) console.log(name.padEnd(44), String(us).padStart(7), `  ${(us / xx).toFixed(1).padStart(6)}`);
