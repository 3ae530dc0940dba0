import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ValidationLevel } from '../../../src/core/codec/input-checks.js';
import {
  compileArrayRowCheck,
  compileNamedRowCheck,
  type RowCheck,
  type RowIssue,
} from '../../../src/core/codec/row-checks.js';
import type { DType } from '../../../src/core/tensors/dtypes.js';
import { describeValue } from '../../../src/core/tensors/tensor-errors.js';
import { arrayRowSchema, namedRowSchema } from '../../helpers/zod-row-oracle.js';

const features = ['a', 'b', 'c'].map((name) => ({ name, min: 0, max: 1 }));

/** Any value a JSON row may hold where a number belongs. */
const value = fc.oneof(
  fc.double({ noNaN: true }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(Infinity, -Infinity, 0.5, -0, 1e308),
  fc.constantFrom('5', ' 2.5 ', '-.5e3', '7.', 'NaN', '1e999', 'x', '', '0x10', '1,5'),
  fc.string({ maxLength: 4 }),
  fc.constantFrom(null, true, false, undefined),
  fc.constant({}),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const nested = (depth: number): fc.Arbitrary<unknown> =>
  depth === 0
    ? value
    : fc.oneof(
        { weight: 4, arbitrary: fc.array(nested(depth - 1), { maxLength: 4 }) },
        { weight: 1, arbitrary: value },
      );
const namedRow = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'x', 'zz', 'toString'), value, { maxKeys: 5 });

const isLength = (issue: RowIssue) => / values (\(|at this level)/.test(issue.message);
const under = (path: (string | number)[], ancestor: (string | number)[]) =>
  path.length > ancestor.length && ancestor.every((p, i) => p === path[i]);

/**
 * Where zod's issues for a row leaked its internals, normalised to what the compiled check says:
 * - in permissive mode every bad value reads "expected a finite number or numeric string, got …"
 *   (zod said "Invalid input", or printed its regex, or "expected an integer" past 2^53);
 * - where a value is not an array, zod also compared its length (a string's) with the dim;
 * - whether zod went on to report a wrong length of an array after a problem inside it depended
 *   on which inner check failed. Both sides drop such an outer length issue before comparing: the
 *   problem inside is reported either way.
 */
function comparable(issues: RowIssue[]): RowIssue[] {
  return issues.filter((o) => !(isLength(o) && issues.some((inner) => under(inner.path, o.path))));
}

function oracle(
  schema: {
    safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } };
  },
  row: unknown,
  level: ValidationLevel,
): RowIssue[] {
  const result = schema.safeParse(row);
  if (result.success) return [];
  const out: RowIssue[] = [];
  for (const issue of result.error!.issues) {
    const path = issue.path as (string | number)[];
    if (
      issue.message === 'Invalid input' ||
      issue.message.startsWith('Invalid string') ||
      (level === 'permissive' && issue.message.startsWith('expected an integer'))
    ) {
      const at = path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], row);
      const message = `expected a finite number or numeric string, got ${describeValue(at)}`;
      if (!out.some((o) => o.path.join() === path.join() && o.message === message)) out.push({ path, message });
    } else out.push({ path, message: issue.message });
  }
  const notArrays = new Set(out.filter((o) => o.message.startsWith('expected an array')).map((o) => o.path.join()));
  return comparable(out.filter((o) => !(notArrays.has(o.path.join()) && isLength(o))));
}

const compiled = (check: RowCheck, row: unknown) => {
  const issues: RowIssue[] = [];
  check(row, issues);
  return comparable(issues);
};

describe('compiled row checks against the zod schemas they replace', () => {
  const cases: [DType, ValidationLevel][] = [
    ['float32', 'strict'],
    ['float32', 'permissive'],
    ['int64', 'strict'],
    ['int64', 'permissive'],
  ];

  it.each(cases)('named rows, %s %s: the same paths and messages, in the same order', (dtype, level) => {
    const check = compileNamedRowCheck(dtype, features, level);
    const schema = namedRowSchema(dtype, features, level);
    fc.assert(
      fc.property(namedRow, (row) => {
        expect(compiled(check, row)).toEqual(oracle(schema, row, level));
      }),
      { numRuns: 2000 },
    );
  });

  it.each(cases)('arrays of feature values, %s %s', (dtype, level) => {
    const check = compileArrayRowCheck(dtype, [3], features, level);
    const schema = arrayRowSchema(dtype, [3], features, level);
    fc.assert(
      fc.property(nested(1), (row) => {
        expect(compiled(check, row)).toEqual(oracle(schema, row, level));
      }),
      { numRuns: 2000 },
    );
  });

  it.each(cases)('nested arrays with fixed and open dims, %s %s', (dtype, level) => {
    for (const shape of [[2, 2], [null, 2], [3], [1, 2, 2]] as (number | null)[][]) {
      const check = compileArrayRowCheck(dtype, shape, undefined, level);
      const schema = arrayRowSchema(dtype, shape, undefined, level);
      fc.assert(
        fc.property(nested(shape.length + 1), (row) => {
          expect(compiled(check, row)).toEqual(oracle(schema, row, level));
        }),
        { numRuns: 1000 },
      );
    }
  });

  it('never recurses deeper than the model rank, however deep the client nests', () => {
    const check = compileArrayRowCheck('float32', [2, 2], undefined, 'strict');
    const nest = (depth: number) => JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`);
    const shallow = compiled(check, nest(50));
    expect(shallow).toEqual(oracle(arrayRowSchema('float32', [2, 2], undefined, 'strict'), nest(50), 'strict'));
    expect(compiled(check, nest(100_000))).toEqual(shallow);
  });
});
