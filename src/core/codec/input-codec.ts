import type { z } from 'zod';
import { dtypes, setElement, type DType, type TypedArray } from '../tensors/dtypes.js';
import { ServiceError, type ErrorDetail } from '../../errors.js';
import { arrayRowSchema, boundsOf, namedRowSchema, type Bounds, type ValidationLevel } from './input-schema.js';
import type { ModelSpec } from '../models/model-spec.js';
import type { AnomalyKind } from '../monitoring/model-monitoring.js';

export interface EncodedInput {
  dtype: DType;
  data: TypedArray;
  dims: number[];
  rows: number;
  warnings: ErrorDetail[];
}

/** How the rows arrived: one `features` object, or an `instances` list. */
export type RowsRoot = 'features' | 'instances';

const MAX_DETAILS = 20;

type RowKind = 'named' | 'flat' | 'nested';

/**
 * Turns JSON rows into one typed array for the model's input, checked against the model's
 * metadata with zod schemas built once per model version and validation level.
 */
export class InputCodec {
  private readonly schemas = new Map<string, z.ZodType>();
  private readonly dtype: DType;
  private readonly bounds: Bounds[];
  /** For positions without a named feature: the dtype's range. */
  private readonly dtypeBounds: Bounds;

  constructor(
    private readonly spec: ModelSpec,
    /** Told how many missing, non-finite and out-of-range values each request carried, valid or not. */
    private readonly onAnomaly?: (kind: AnomalyKind, count: number) => void,
  ) {
    if (!('name' in spec.input)) throw new Error(spec.input.unsupported);
    this.dtype = spec.input.dtype;
    const features = spec.features;
    const size = spec.rowSize ?? 0;
    this.bounds = Array.from({ length: size }, (_, i) => boundsOf(this.dtype, features?.[i]));
    this.dtypeBounds = boundsOf(this.dtype);
  }

  encode(rows: unknown[], root: RowsRoot, level: ValidationLevel): EncodedInput {
    const details: ErrorDetail[] = [];
    const kinds: RowKind[] = [];
    rows.forEach((row, i) => {
      const prefix: (string | number)[] = root === 'features' ? ['features'] : ['instances', i];
      const kind = this.kindOf(row, prefix, details);
      kinds.push(kind ?? 'nested');
      if (!kind || details.length >= MAX_DETAILS) return;
      const result = this.schema(kind, level).safeParse(row);
      if (!result.success) {
        for (const issue of result.error.issues) details.push({ path: formatPath([...prefix, ...issue.path]), message: issue.message });
      }
    });
    this.countAnomalies(rows, kinds);
    if (details.length > 0) throw invalid(details);

    const rowShape = this.resolveRowShape(rows, kinds);
    const rowSize = rowShape.reduce((a, b) => a * b, 1);
    const data = dtypes[this.dtype].create(rows.length * rowSize);
    const warnings: ErrorDetail[] = [];
    const where = (i: number, j: number) =>
      formatPath([...(root === 'features' ? ['features'] : ['instances', i]), ...this.positionPath(kinds[i]!, j, rowShape)]);
    // The hot loop of every JSON request: plain loops, no closure or allocation per value.
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const values = kinds[i] === 'named' ? this.spec.features!.map((f) => (row as Record<string, unknown>)[f.name]) : kinds[i] === 'flat' || this.spec.rowShape.length <= 1 ? (row as unknown[]) : flatten(row);
      const offset = i * rowSize;
      for (let j = 0; j < values.length; j++) {
        const raw = values[j];
        const bounds = this.bounds[j] ?? this.dtypeBounds;
        let value = typeof raw === 'string' ? Number(raw) : (raw as number);
        if (typeof raw === 'string') warnings.push({ path: where(i, j), message: `numeric string ${JSON.stringify(raw)} read as ${value}` });
        if (value < bounds.low || value > bounds.high) {
          if (level === 'strict') {
            details.push({ path: where(i, j), message: `must be between ${bounds.low} and ${bounds.high} (${bounds.why})` });
            continue;
          }
          const clamped = Math.min(bounds.high, Math.max(bounds.low, value));
          warnings.push({ path: where(i, j), message: `${value} clamped to ${clamped} (${bounds.why})` });
          value = clamped;
        }
        setElement(data, offset + j, value);
      }
    }
    if (details.length > 0) throw invalid(details);
    return { dtype: this.dtype, data, dims: [rows.length, ...rowShape], rows: rows.length, warnings: warnings.slice(0, MAX_DETAILS) };
  }

  /**
   * Checks a tensor that arrived as raw bytes (binary input) the way JSON rows are checked:
   * rank and fixed dims against the model, finite values, feature ranges (strict rejects,
   * permissive clamps in place and warns). Paths read `tensor[row][...]`.
   */
  checkTensor(data: TypedArray, dims: number[], level: ValidationLevel): EncodedInput {
    const rowShape = dims.slice(1);
    if (dims.length !== this.spec.rowShape.length + 1 || this.spec.rowShape.some((d, i) => d !== null && d !== rowShape[i]) || dims[0]! < 1) {
      throw invalid([{ path: 'shape', message: `shape [${dims}] does not fit the model input [batch,${this.shapeText().slice(1)}` }]);
    }
    const rows = dims[0]!;
    const rowSize = rowShape.reduce((a, b) => a * b, 1);
    const details: ErrorDetail[] = [];
    const warnings: ErrorDetail[] = [];
    this.countAnomalies([data], ['flat']);
    const where = (i: number) => formatPath(['tensor', Math.floor(i / rowSize), ...this.positionPath('nested', i % rowSize, rowShape)]);
    for (let i = 0; i < data.length && details.length < MAX_DETAILS; i++) {
      const value = Number(data[i]);
      const bounds = this.bounds[i % rowSize] ?? this.dtypeBounds;
      if (value >= bounds.low && value <= bounds.high) continue; // the common case: no work, no allocation
      if (!Number.isFinite(value)) details.push({ path: where(i), message: `expected a finite number, got ${value}` });
      else if (level === 'strict') details.push({ path: where(i), message: `must be between ${bounds.low} and ${bounds.high} (${bounds.why})` });
      else {
        const clamped = Math.min(bounds.high, Math.max(bounds.low, value));
        if (warnings.length < MAX_DETAILS) warnings.push({ path: where(i), message: `${value} clamped to ${clamped} (${bounds.why})` });
        setElement(data, i, clamped);
      }
    }
    if (details.length > 0) throw invalid(details);
    return { dtype: this.dtype, data, dims, rows, warnings };
  }

  private countAnomalies(rows: unknown[], kinds: RowKind[]): void {
    if (!this.onAnomaly) return;
    const counts: Record<AnomalyKind, number> = { missing: 0, non_finite: 0, out_of_range: 0 };
    rows.forEach((row, i) => {
      const values =
        kinds[i] === 'named' ? this.spec.features!.map((f) => (row as Record<string, unknown>)[f.name]) : ArrayBuffer.isView(row) ? (row as TypedArray) : flatten(row);
      const rowSize = this.bounds.length || 1;
      for (let j = 0; j < values.length; j++) {
        const raw = values[j];
        if (raw === undefined || raw === null) {
          counts.missing++;
          continue;
        }
        if (typeof raw !== 'number' && typeof raw !== 'bigint' && typeof raw !== 'string') continue;
        const value = Number(raw);
        const bounds = this.bounds[j % rowSize] ?? this.dtypeBounds;
        if (value >= bounds.low && value <= bounds.high) continue;
        if (!Number.isFinite(value)) counts.non_finite++;
        else counts.out_of_range++;
      }
    });
    for (const [kind, count] of Object.entries(counts)) if (count > 0) this.onAnomaly(kind as AnomalyKind, count);
  }

  private kindOf(row: unknown, prefix: (string | number)[], details: ErrorDetail[]): RowKind | undefined {
    if (row !== null && typeof row === 'object' && !Array.isArray(row)) {
      if (this.spec.features) return 'named';
      details.push({ path: formatPath(prefix), message: `this model has no named features; send an array shaped ${this.shapeText()}` });
      return undefined;
    }
    if (Array.isArray(row)) {
      if (this.spec.rowShape.length <= 1 || Array.isArray(row[0])) return 'nested';
      if (this.spec.rowSize !== null) return 'flat';
      details.push({ path: formatPath(prefix), message: `this model's row shape ${this.shapeText()} has open dims; send nested arrays` });
      return undefined;
    }
    const expected = this.spec.features ? 'an object of named features or an array' : `an array shaped ${this.shapeText()}`;
    details.push({ path: formatPath(prefix), message: `expected ${expected}` });
    return undefined;
  }

  /** The model's row shape as messages write it, e.g. [1,8,8] or [?]. */
  private shapeText(): string {
    return `[${this.spec.rowShape.map((d) => d ?? '?').join(',')}]`;
  }

  private schema(kind: RowKind, level: ValidationLevel): z.ZodType {
    const key = `${kind}:${level}`;
    let schema = this.schemas.get(key);
    if (!schema) {
      const { rowShape, rowSize, features } = this.spec;
      schema =
        kind === 'named'
          ? namedRowSchema(this.dtype, features!, level)
          : arrayRowSchema(this.dtype, kind === 'flat' ? [rowSize!] : rowShape, features, level);
      this.schemas.set(key, schema);
    }
    return schema;
  }

  /** Fills open dims from the first row and checks every row agrees, so the rows stack into one tensor. */
  private resolveRowShape(rows: unknown[], kinds: RowKind[]): number[] {
    if (this.spec.rowShape.every((d) => d !== null)) return this.spec.rowShape as number[];
    const details: ErrorDetail[] = [];
    const first = dimsOf(rows[0], this.spec.rowShape.length);
    rows.forEach((row, i) => {
      const dims = dimsOf(row, this.spec.rowShape.length);
      if (kinds[i] !== 'nested' || !isRectangular(row, dims)) {
        details.push({ path: formatPath(['instances', i]), message: 'rows must be rectangular nested arrays' });
      } else if (dims.join() !== first.join()) {
        details.push({ path: formatPath(['instances', i]), message: `shape [${dims}] differs from the first row's [${first}]` });
      }
    });
    if (details.length > 0) throw invalid(details);
    return first;
  }

  private positionPath(kind: RowKind, flatIndex: number, rowShape: number[]): (string | number)[] {
    if (kind === 'named') return [this.spec.features![flatIndex]!.name];
    if (kind === 'flat' || rowShape.length <= 1) return [flatIndex];
    const path: number[] = [];
    let rest = flatIndex;
    for (let d = rowShape.length - 1; d >= 0; d--) {
      path.unshift(rest % rowShape[d]!);
      rest = Math.floor(rest / rowShape[d]!);
    }
    return path;
  }
}

function invalid(details: ErrorDetail[]): ServiceError {
  const shown = details.slice(0, MAX_DETAILS);
  const first = shown[0]!;
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  return new ServiceError('INVALID_INPUT', `invalid input at ${first.path}: ${first.message}${more}`, shown);
}

/** instances[0].sepal_length, instances[2][0][3] */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => {
    if (typeof part === 'number') return `${out}[${part}]`;
    const name = String(part);
    return out === '' ? name : /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `${out}.${name}` : `${out}[${JSON.stringify(name)}]`;
  }, '');
}

function flatten(value: unknown, out: unknown[] = []): unknown[] {
  if (Array.isArray(value)) for (const item of value) flatten(item, out);
  else out.push(value);
  return out;
}

function dimsOf(value: unknown, depth: number): number[] {
  const dims: number[] = [];
  let cursor = value;
  for (let d = 0; d < depth; d++) {
    const length = Array.isArray(cursor) ? cursor.length : 0;
    dims.push(length);
    cursor = Array.isArray(cursor) ? cursor[0] : undefined;
  }
  return dims;
}

function isRectangular(value: unknown, dims: number[]): boolean {
  if (dims.length === 0) return !Array.isArray(value);
  if (!Array.isArray(value) || value.length !== dims[0]) return false;
  const rest = dims.slice(1);
  return value.every((item) => isRectangular(item, rest));
}
