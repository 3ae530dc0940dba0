import { z } from 'zod';
import { dtypes, type DType } from '../tensors/dtypes.js';
import type { FeatureConfig } from '../models/model-config.js';

export type ValidationLevel = 'strict' | 'permissive';

const NUMERIC_STRING = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/** The bounds one value must respect: the dtype's range narrowed by the feature's min/max. */
export interface Bounds {
  low: number;
  high: number;
  why: string;
}

export function boundsOf(dtype: DType, feature?: FeatureConfig): Bounds {
  const info = dtypes[dtype];
  const named = feature?.min !== undefined || feature?.max !== undefined;
  return {
    low: Math.max(info.min, feature?.min ?? -Infinity),
    high: Math.min(info.max, feature?.max ?? Infinity),
    why: named ? `the range of ${feature!.name} in model.json` : `the range of ${dtype}`,
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === 'number') return `${value}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * The zod schema of one input value, derived from the model's dtype and feature range.
 * strict: a finite number inside the bounds (an integer for integer dtypes).
 * permissive: a finite number or a numeric string; out-of-range values pass here and are
 * clamped by the codec, which reports each change as a warning.
 */
export function elementSchema(dtype: DType, bounds: Bounds, level: ValidationLevel) {
  const integer = dtypes[dtype].integer;
  const finite = z.number({ error: (issue) => `expected a finite number, got ${describe(issue.input)}` });
  const typed = integer ? finite.int({ error: `expected an integer for ${dtype}` }) : finite;
  if (level === 'strict') {
    return typed.refine((v) => v >= bounds.low && v <= bounds.high, {
      error: `must be between ${bounds.low} and ${bounds.high} (${bounds.why})`,
    });
  }
  const numericString = z
    .string()
    .regex(NUMERIC_STRING)
    .refine((s) => Number.isFinite(Number(s)) && (!integer || Number.isInteger(Number(s))));
  return z.union([typed, numericString], {
    error: (issue) => `expected a finite number or numeric string, got ${describe(issue.input)}`,
  });
}

/** A row of named features: exactly the model's feature names (strict) or at least them (permissive). */
export function namedRowSchema(dtype: DType, features: FeatureConfig[], level: ValidationLevel) {
  const shape = Object.fromEntries(features.map((f) => [f.name, elementSchema(dtype, boundsOf(dtype, f), level)]));
  const names = features.map((f) => f.name).join(', ');
  const error = (issue: { code?: string; input?: unknown; keys?: string[] }) =>
    issue.code === 'unrecognized_keys'
      ? `unknown feature ${(issue.keys ?? []).map((k) => JSON.stringify(k)).join(', ')}; the model takes ${names}`
      : `expected an object of named features, got ${describe(issue.input)}`;
  return level === 'strict' ? z.strictObject(shape, { error }) : z.object(shape, { error });
}

/**
 * A row as an array shaped like the model's input without its batch dim. With named features
 * the row is a tuple, so each position gets its own feature's range.
 */
export function arrayRowSchema(dtype: DType, rowShape: (number | null)[], features: FeatureConfig[] | undefined, level: ValidationLevel) {
  const notArray = { error: (issue: { input?: unknown }) => `expected an array, got ${describe(issue.input)}` };
  const sized = (inner: z.ZodType, size: number | null) =>
    size === null
      ? z.array(inner, notArray)
      : z.array(inner, notArray).length(size, { error: `expected ${size} values at this level of shape [${rowShape.map((d) => d ?? '?').join(',')}]` });

  if (rowShape.length <= 1 && features) {
    const positions = features.map((f) => elementSchema(dtype, boundsOf(dtype, f), level)) as unknown as [z.ZodType, ...z.ZodType[]];
    return z
      .array(z.unknown(), notArray)
      .length(features.length, { error: `expected ${features.length} values (${features.map((f) => f.name).join(', ')})` })
      .pipe(z.tuple(positions));
  }
  const element = elementSchema(dtype, boundsOf(dtype), level);
  return rowShape.reduceRight<z.ZodType>((inner, size) => sized(inner, size), element);
}
