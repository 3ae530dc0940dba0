/**
 * Deterministic values for the differential requests: each request draws from its own generator,
 * seeded by its name, so adding or removing a request never changes another one's bytes.
 */
export type Random = () => number;

/** mulberry32, seeded with the FNV-1a hash of a label: the same numbers on every run and machine. */
export function seeded(label: string): Random {
  let state = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) state = Math.imul(state ^ label.charCodeAt(i), 0x01000193);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A number inside [min, max] (kept off the edges), written with at most `digits` significant digits. */
export function between(random: Random, min: number, max: number, digits = 5): number {
  const value = Number((min + (max - min) * (0.05 + 0.9 * random())).toPrecision(digits));
  return Math.min(max, Math.max(min, value));
}

/** An integer in [min, max]. */
export function integer(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}
