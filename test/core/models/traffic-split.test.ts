import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSplit, InvalidSplitError, type SplitVariant } from '../../../src/core/models/traffic-split.js';

const KEYS = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);
/** 100k keys: a share's standard error is at most 0.0016, so 0.006 is over 3.5 sigma from a correct split. */
const SHARE_TOLERANCE = 0.006;
const settings = { seed: 13, numRuns: 200 };

/** Weights by variant name. */
type Weights = Record<string, number>;

function split(weights: Weights, salt = 'fraud') {
  return compileSplit(
    Object.entries(weights).map(([name, weight]) => ({ name, weight })),
    { salt },
  );
}

/** Each key's variant name. */
function assignAll(weights: Weights, keys = KEYS): string[] {
  const s = split(weights);
  return keys.map((k) => s.assign(k).name);
}

function shares(names: string[]): Weights {
  const out: Weights = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1 / names.length;
  return out;
}

function normalized(weights: Weights): Weights {
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  return Object.fromEntries(Object.entries(weights).map(([n, w]) => [n, w / total]));
}

/** The least fraction of keys any assignment must move: the total variation distance, Σ|Δshare| / 2. */
function minimumMoved(before: Weights, after: Weights): number {
  const x = normalized(before);
  const y = normalized(after);
  const names = new Set([...Object.keys(x), ...Object.keys(y)]);
  let sum = 0;
  for (const n of names) sum += Math.abs((x[n] ?? 0) - (y[n] ?? 0));
  return sum / 2;
}

/**
 * What an exponential race moves in expectation: 1 - Σ_i 1 / Σ_j max(x_j/x_i, y_j/y_i), over the
 * variants with weight in both (a key stays only where it can win before and after).
 */
function raceMoved(before: Weights, after: Weights): number {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const x = (n: string) => before[n] ?? 0;
  const y = (n: string) => after[n] ?? 0;
  let stay = 0;
  for (const i of names) {
    if (x(i) === 0 || y(i) === 0) continue;
    stay += 1 / names.reduce((s, j) => s + Math.max(x(j) / x(i), y(j) / y(i)), 0);
  }
  return 1 - stay;
}

describe('a sticky split by routing key', () => {
  it.each<Weights>([
    { v1: 90, v2: 10 },
    { v1: 50, v2: 50 },
    { v1: 99, v2: 1 },
    { a: 1, b: 2, c: 3, d: 4 },
    { control: 70, canary: 25, shadowless: 5 },
  ])(`shares over 100k keys are within ${SHARE_TOLERANCE} of the weights: %o`, (weights) => {
    const got = shares(assignAll(weights));
    for (const [name, expected] of Object.entries(normalized(weights))) {
      expect(Math.abs((got[name] ?? 0) - expected), name).toBeLessThan(SHARE_TOLERANCE);
    }
  });

  it('one key always gets one variant, whatever the order the variants are listed in', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 5 }),
        (key, weights) => {
          const variants = weights.map((weight, i) => ({ name: `v${i}`, weight }));
          const first = compileSplit(variants, { salt: 'm' }).assign(key);
          expect(compileSplit(variants, { salt: 'm' }).assign(key)).toBe(first);
          expect(compileSplit([...variants].reverse(), { salt: 'm' }).assign(key).name).toBe(first.name);
        },
      ),
      settings,
    );
  });

  it('gives back the caller’s own variant objects, extra fields included', () => {
    const variants = [
      { name: 'stable', weight: 1, version: '1' },
      { name: 'canary', weight: 1, version: '2' },
    ];
    const s = compileSplit(variants);
    expect(variants).toContain(s.assign('user-1'));
    expect(s.assign('user-1').version).toMatch(/^[12]$/);
  });

  it('two splits with other salts choose independently', () => {
    const a = split({ v1: 50, v2: 50 }, 'fraud');
    const b = split({ v1: 50, v2: 50 }, 'churn');
    const same = KEYS.filter((k) => a.assign(k).name === b.assign(k).name).length / KEYS.length;
    expect(Math.abs(same - 0.5)).toBeLessThan(SHARE_TOLERANCE);
  });

  it('a zero-weight variant receives no key', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.array(fc.nat(20), { minLength: 2, maxLength: 5 }), (key, weights) => {
        fc.pre(weights.some((w) => w > 0));
        const chosen = compileSplit(weights.map((weight, i) => ({ name: `v${i}`, weight }))).assign(key);
        expect(chosen.weight).toBeGreaterThan(0);
      }),
      settings,
    );
    expect(assignAll({ v1: 90, off: 0, v2: 10 }, KEYS.slice(0, 20_000))).not.toContain('off');
  });
});

describe('changing the weights moves as few keys as a stateless split can', () => {
  /** The fraction of KEYS whose variant differs, and each move as "from>to". */
  function movement(before: Weights, after: Weights) {
    const a = assignAll(before);
    const b = assignAll(after);
    const moves = new Set<string>();
    let moved = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        moved++;
        moves.add(`${a[i]}>${b[i]}`);
      }
    }
    return { moved: moved / a.length, moves: [...moves].sort() };
  }

  it.each<{ before: Weights; after: Weights; moves: string[] }>([
    { before: { v1: 90, v2: 10 }, after: { v1: 80, v2: 20 }, moves: ['v1>v2'] },
    { before: { v1: 80, v2: 20 }, after: { v1: 95, v2: 5 }, moves: ['v2>v1'] },
    { before: { v1: 95, v2: 5 }, after: { v1: 50, v2: 50 }, moves: ['v1>v2'] },
    // One weight raised among three: keys move only to it.
    { before: { v1: 60, v2: 30, v3: 10 }, after: { v1: 60, v2: 30, v3: 30 }, moves: ['v1>v3', 'v2>v3'] },
    // Adding a variant: it takes keys only for itself, from every other.
    { before: { v1: 90, v2: 10 }, after: { v1: 90, v2: 10, v3: 25 }, moves: ['v1>v3', 'v2>v3'] },
    // Removing one: only its own keys move.
    { before: { v1: 60, v2: 30, v3: 10 }, after: { v1: 60, v2: 30 }, moves: ['v3>v1', 'v3>v2'] },
    { before: { v1: 60, v2: 30, v3: 10 }, after: { v1: 60, v3: 10 }, moves: ['v2>v1', 'v2>v3'] },
    // Setting one to zero is removing it.
    { before: { v1: 60, v2: 30, v3: 10 }, after: { v1: 60, v2: 30, v3: 0 }, moves: ['v3>v1', 'v3>v2'] },
  ])('$before -> $after moves the minimum, only $moves', ({ before, after, moves }) => {
    const got = movement(before, after);
    expect(got.moves).toEqual(moves);
    expect(Math.abs(raceMoved(before, after) - minimumMoved(before, after))).toBeLessThan(1e-12);
    expect(Math.abs(got.moved - minimumMoved(before, after))).toBeLessThan(SHARE_TOLERANCE);
  });

  it('an added variant takes from the others in proportion to their weights', () => {
    const a = assignAll({ v1: 75, v2: 25 });
    const b = assignAll({ v1: 75, v2: 25, v3: 20 });
    const taken = shares(a.filter((_, i) => b[i] === 'v3'));
    expect(Math.abs(taken.v1! - 0.75)).toBeLessThan(0.015);
  });

  it.each<{ before: Weights; after: Weights }>([
    { before: { v1: 50, v2: 30, v3: 20 }, after: { v1: 30, v2: 50, v3: 20 } },
    { before: { v1: 40, v2: 40, v3: 20 }, after: { v1: 20, v2: 20, v3: 60 } },
    { before: { a: 25, b: 25, c: 25, d: 25 }, after: { a: 10, b: 40, c: 10, d: 40 } },
  ])(
    'several weights at once: $before -> $after moves what the exponential race predicts, ≤ 2δ/(1+δ)',
    ({ before, after }) => {
      const { moved } = movement(before, after);
      const least = minimumMoved(before, after);
      const race = raceMoved(before, after);
      expect(race).toBeGreaterThanOrEqual(least - 1e-12);
      expect(race).toBeLessThanOrEqual((2 * least) / (1 + least) + 1e-12);
      expect(Math.abs(moved - race)).toBeLessThan(SHARE_TOLERANCE);
    },
  );

  it('raising one weight never moves a key away from that variant, nor between the others', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 5 }),
        fc.nat(4),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.string({ minLength: 1 }), { minLength: 50, maxLength: 50 }),
        (weights, pick, raise, keys) => {
          const i = pick % weights.length;
          const before = weights.map((weight, j) => ({ name: `v${j}`, weight }));
          const after = before.map((v, j) => (j === i ? { ...v, weight: v.weight + raise } : v));
          const [a, b] = [compileSplit(before), compileSplit(after)];
          for (const k of keys) {
            const [x, y] = [a.assign(k).name, b.assign(k).name];
            if (x !== y) expect(y).toBe(`v${i}`);
          }
        },
      ),
      settings,
    );
  });
});

describe('a split without a key', () => {
  /** A seeded uniform source (mulberry32), so the shares are reproducible. */
  function seeded(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('draws by weight from the injected source', () => {
    const s = compileSplit(
      [
        { name: 'v1', weight: 70 },
        { name: 'off', weight: 0 },
        { name: 'v2', weight: 20 },
        { name: 'v3', weight: 10 },
      ],
      { random: seeded(42) },
    );
    const got = shares(Array.from({ length: 100_000 }, () => s.assign().name));
    expect(got.off).toBeUndefined();
    expect(Math.abs(got.v1! - 0.7)).toBeLessThan(SHARE_TOLERANCE);
    expect(Math.abs(got.v2! - 0.2)).toBeLessThan(SHARE_TOLERANCE);
    expect(Math.abs(got.v3! - 0.1)).toBeLessThan(SHARE_TOLERANCE);
  });

  it('maps the source’s interval onto the weights exactly, an empty key counting as none', () => {
    let next = 0;
    const s = compileSplit(
      [
        { name: 'v1', weight: 3 },
        { name: 'v2', weight: 1 },
      ],
      { random: () => next },
    );
    const at = (r: number, key?: string) => ((next = r), s.assign(key).name);
    expect([at(0), at(0.7499), at(0.75), at(0.9999999), at(0.2, ''), at(0.8, '')]).toEqual([
      'v1',
      'v1',
      'v2',
      'v2',
      'v1',
      'v2',
    ]);
  });
});

describe('edge cases and invalid splits', () => {
  it('one variant, or one with weight among zeros, takes everything', () => {
    for (const variants of [
      [{ name: 'only', weight: 5 }],
      [
        { name: 'a', weight: 0 },
        { name: 'only', weight: 1 },
        { name: 'b', weight: 0 },
      ],
    ]) {
      const s = compileSplit(variants, { random: () => 0.999 });
      expect(new Set([...KEYS.slice(0, 1000).map((k) => s.assign(k).name), s.assign().name])).toEqual(
        new Set(['only']),
      );
    }
  });

  it.each([
    { variants: [], path: '', message: 'a split needs at least one variant' },
    {
      variants: [
        { name: 'a', weight: 0 },
        { name: 'b', weight: 0 },
      ],
      path: '',
      message: 'at least one variant needs a weight above 0',
    },
    {
      variants: [
        { name: 'a', weight: -1 },
        { name: 'b', weight: 1 },
      ],
      path: '0.weight',
      message: '>=0',
    },
    { variants: [{ name: 'a', weight: Number.NaN }], path: '0.weight', message: '' },
    { variants: [{ name: 'a', weight: Infinity }], path: '0.weight', message: '' },
    { variants: [{ name: '', weight: 1 }], path: '0.name', message: '' },
    {
      variants: [
        { name: 'a', weight: 1 },
        { name: 'a', weight: 2 },
      ],
      path: '',
      message: 'variant names must be unique',
    },
  ] as { variants: SplitVariant[]; path: string; message: string }[])(
    'rejects $variants with a clear error',
    ({ variants, path, message }) => {
      let error: unknown;
      try {
        compileSplit(variants);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidSplitError);
      const details = (error as InvalidSplitError).details;
      expect(details.map((d) => d.path)).toContain(path);
      expect(details.find((d) => d.path === path)!.message.replace(/\s/g, '')).toContain(message.replace(/\s/g, ''));
      expect((error as Error).message).toMatch(/^invalid traffic split: /);
    },
  );
});
