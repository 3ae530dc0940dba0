/**
 * The zod row schemas the service used before its row checks were compiled
 * (src/core/codec/row-checks.ts), kept as the oracle those checks are tested against: the same
 * paths and messages, except where zod leaked its internals (see test/core/codec/row-checks.test.ts).
 */
import { z } from 'zod';
import { dtypes, type DType } from '../../src/core/tensors/dtypes.js';
import { describeValue } from '../../src/core/tensors/tensor-errors.js';
import type { FeatureConfig } from '../../src/core/models/model-config.js';
import type { ValidationLevel } from '../../src/core/codec/input-checks.js';

const NUMERIC_STRING = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * The zod schema of one value in a JSON row: its type, not its range (the model's input checks
 * judge ranges, for every protocol alike).
 * strict: a finite number (an integer for integer dtypes).
 * permissive: also a numeric string, read as its number and reported as a warning.
 */
export function elementSchema(dtype: DType, level: ValidationLevel) {
  const integer = dtypes[dtype].kind === 'int' || dtypes[dtype].kind === 'bigint' || dtypes[dtype].kind === 'bool';
  const finite = z.number({ error: (issue) => `expected a finite number, got ${describeValue(issue.input)}` });
  const typed = integer ? finite.int({ error: `expected an integer for ${dtype}` }) : finite;
  if (level === 'strict') return typed;
  const numericString = z
    .string()
    .regex(NUMERIC_STRING)
    .refine((s) => Number.isFinite(Number(s)) && (!integer || Number.isSafeInteger(Number(s))));
  return z.union([typed, numericString], {
    error: (issue) => `expected a finite number or numeric string, got ${describeValue(issue.input)}`,
  });
}

/** A row of named features: exactly the model's feature names (strict) or at least them (permissive). */
export function namedRowSchema(dtype: DType, features: FeatureConfig[], level: ValidationLevel) {
  const shape = Object.fromEntries(features.map((f) => [f.name, elementSchema(dtype, level)]));
  const names = features.map((f) => f.name).join(', ');
  const error = (issue: { code?: string; input?: unknown; keys?: string[] }) =>
    issue.code === 'unrecognized_keys'
      ? `unknown feature ${(issue.keys ?? []).map((k) => JSON.stringify(k)).join(', ')}; the model takes ${names}`
      : `expected an object of named features, got ${describeValue(issue.input)}`;
  return level === 'strict' ? z.strictObject(shape, { error }) : z.object(shape, { error });
}

/**
 * A row as an array shaped like the model's input without its batch dim. With named features
 * the row has exactly one value per feature.
 */
export function arrayRowSchema(
  dtype: DType,
  rowShape: (number | null)[],
  features: FeatureConfig[] | undefined,
  level: ValidationLevel,
) {
  const notArray = { error: (issue: { input?: unknown }) => `expected an array, got ${describeValue(issue.input)}` };
  const element = elementSchema(dtype, level);
  if (rowShape.length <= 1 && features) {
    return z.array(element, notArray).length(features.length, {
      error: `expected ${features.length} values (${features.map((f) => f.name).join(', ')})`,
    });
  }
  const sized = (inner: z.ZodType, size: number | null) =>
    size === null
      ? z.array(inner, notArray)
      : z.array(inner, notArray).length(size, {
          error: `expected ${size} values at this level of shape [${rowShape.map((d) => d ?? '?').join(',')}]`,
        });
  return rowShape.reduceRight<z.ZodType>((inner, size) => sized(inner, size), element);
}
