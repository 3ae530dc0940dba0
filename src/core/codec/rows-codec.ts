import type { ErrorDetail } from '../../errors.js';
import type { FeatureConfig } from '../models/model-config.js';
import type { TensorSpec } from '../models/model-spec.js';
import type { AnomalyKind } from './input-checks.js';
import { dtypes, setElement, type DType, type NumericArray, type TypedArray } from '../tensors/dtypes.js';
import { forEachLeaf } from '../tensors/json-data.js';
import { JsonNumbers } from '../tensors/json-numbers.js';
import { valuesFor } from '../tensors/json-numbers-fill.js';
import type { Tensor } from '../tensors/tensor.js';
import { invalidInput, MAX_DETAILS } from '../tensors/tensor-errors.js';
import { boundsOf, type Bounds } from './bounds.js';
import type { ValidationLevel } from './input-checks.js';
import { formatPath, unravel, type Locator } from '../tensors/paths.js';
import { compileArrayRowCheck, compileNamedRowCheck, type RowCheck, type RowIssue } from './row-checks.js';

/** How a protocol names where its rows are: the path of row i, and of the rows as a whole. */
export interface RowsPlace {
  row(i: number): (string | number)[];
  whole: string;
}

export type RowKind = 'named' | 'flat' | 'nested';

export interface DecodedRows {
  tensor: Tensor;
  warnings: ErrorDetail[];
  /** How each row was sent; with the tensor's shape, all locatorOf needs. */
  kinds: RowKind[];
  /** Names positions of the tensor the way the rows were sent: rows[0].petal_width. */
  locator: Locator;
}

/**
 * JSON rows (named features, flat arrays or nested arrays) stacked into the tensor of a model's
 * one batched input. It checks what only the rows can tell (shape of each row, value types,
 * numeric strings, a value that does not fit the dtype); ranges and finiteness are the model's
 * input checks' job, for every protocol alike. Row checks are compiled once per row kind and level.
 */
export class RowsCodec {
  private readonly checks = new Map<string, RowCheck>();
  private readonly dtype: DType;
  /** Dims of one row; null where the model leaves a dim open. */
  private readonly rowShape: (number | null)[];
  private readonly rowSize: number | null;
  private readonly dtypeBounds: Bounds;
  private readonly featureBounds: Bounds[];

  constructor(
    input: TensorSpec,
    private readonly features: FeatureConfig[] | undefined,
    /** Told the anomalies of rows it rejects (rows it accepts are counted by the input checks). */
    private readonly onAnomaly?: (kind: AnomalyKind, count: number) => void,
  ) {
    this.dtype = input.dtype;
    this.rowShape = input.shape.slice(1).map((d) => (typeof d === 'number' ? d : null));
    this.rowSize = this.rowShape.every((d) => d !== null) ? this.rowShape.reduce((a, b) => a * b, 1) : null;
    this.dtypeBounds = boundsOf(this.dtype);
    this.featureBounds = (features ?? []).map((f) => boundsOf(this.dtype, f));
  }

  decode(sent: unknown[], place: RowsPlace, level: ValidationLevel): DecodedRows {
    const fast = this.tryFill(sent);
    if (fast)
      return {
        tensor: fast.tensor,
        warnings: [],
        kinds: fast.kinds,
        locator: this.locatorOf(place, fast.kinds, this.rowShape as number[]),
      };
    // The checking path reads rows read from the bytes (JsonNumbers) as the JSON arrays they are
    const rows = sent.map((row) => (row instanceof JsonNumbers ? row.materialize() : row));
    const details: ErrorDetail[] = [];
    const kinds: RowKind[] = [];
    const issues: RowIssue[] = [];
    for (let i = 0; i < rows.length; i++) {
      const kind = this.kindOf(rows[i], place, i, details);
      kinds.push(kind ?? 'nested');
      if (!kind || details.length >= MAX_DETAILS) continue;
      this.check(kind, level)(rows[i], issues);
      if (issues.length === 0) continue;
      const prefix = place.row(i);
      for (const issue of issues)
        details.push({ path: formatPath([...prefix, ...issue.path]), message: issue.message });
      issues.length = 0;
    }
    if (details.length > 0) throw this.rejected(rows, kinds, details);

    const rowShape = this.resolveRowShape(rows, kinds, place);
    const rowSize = rowShape.reduce((a, b) => a * b, 1);
    const data = dtypes[this.dtype].create(rows.length * rowSize) as TypedArray;
    const warnings: ErrorDetail[] = [];
    const locator = this.locatorOf(place, kinds, rowShape);
    const shape = [rows.length, ...rowShape];
    // The hot loop of every JSON request: plain loops, no closure or allocation per value.
    for (let i = 0; i < rows.length; i++) {
      const values = this.valuesOf(rows[i], kinds[i]!);
      const offset = i * rowSize;
      for (let j = 0; j < values.length; j++) {
        const raw = values[j];
        let value = typeof raw === 'string' ? Number(raw) : (raw as number);
        if (typeof raw === 'string')
          warnings.push({
            path: locator.element('', offset + j, shape),
            message: `numeric string ${JSON.stringify(raw)} read as ${value}`,
          });
        const b = this.dtypeBounds;
        if (value < b.low || value > b.high) {
          if (level === 'strict') {
            details.push({
              path: locator.element('', offset + j, shape),
              message: `must be between ${b.low} and ${b.high} (${b.why})`,
            });
            continue;
          }
          const clamped = Math.min(b.high, Math.max(b.low, value));
          warnings.push({
            path: locator.element('', offset + j, shape),
            message: `${value} clamped to ${clamped} (${b.why})`,
          });
          value = clamped;
        }
        setElement(data, this.dtype, offset + j, value);
      }
    }
    if (details.length > 0) throw invalidInput(details);
    return { tensor: { dtype: this.dtype, shape, data }, warnings: warnings.slice(0, MAX_DETAILS), kinds, locator };
  }

  /**
   * The common case in one pass: rows of a fixed shape whose every value is a number that fits the
   * dtype, written straight into the tensor. undefined as soon as anything is not so (a string, a
   * missing or unknown feature, a wrong length, a value to clamp): the checking path then runs
   * from the start, and says what and where.
   */
  private tryFill(rows: unknown[]): { tensor: Tensor; kinds: RowKind[] } | undefined {
    const rowSize = this.rowSize;
    if (rowSize === null) return undefined;
    const data = dtypes[this.dtype].create(rows.length * rowSize) as TypedArray;
    const write = writerOf(this.dtype, data, this.dtypeBounds);
    const kinds = new Array<RowKind>(rows.length);
    const names = this.features?.map((f) => f.name);
    const shape = this.rowShape as number[];
    let at = 0;
    // Nested rows: the recursion goes as deep as the model's rank, never deeper.
    const nested = (value: unknown, depth: number): boolean => {
      if (depth === shape.length) return write(value, at++);
      if (!Array.isArray(value) || value.length !== shape[depth]) return false;
      for (let i = 0; i < value.length; i++) if (!nested(value[i], depth + 1)) return false;
      return true;
    };
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      if (row instanceof JsonNumbers) {
        const dims = row.dims;
        if (!dims) return undefined;
        if (this.rowShape.length > 1 && dims.length === 1) {
          kinds[r] = 'flat';
          if (row.count !== rowSize) return undefined;
        } else {
          kinds[r] = 'nested';
          if (dims.join() !== shape.join()) return undefined;
        }
        const values = valuesFor(row, this.dtype);
        for (let j = 0; j < rowSize; j++) if (!write(values[j], at++)) return undefined;
      } else if (Array.isArray(row)) {
        if (this.rowShape.length > 1 && !Array.isArray(row[0])) {
          kinds[r] = 'flat';
          if (row.length !== rowSize) return undefined;
          for (let j = 0; j < rowSize; j++) if (!write(row[j], at++)) return undefined;
        } else {
          kinds[r] = 'nested';
          if (!nested(row, 0)) return undefined;
        }
      } else if (names && row !== null && typeof row === 'object') {
        kinds[r] = 'named';
        const object = row as Record<string, unknown>;
        // Missing or unknown names: the checking path says which
        if (Object.keys(object).length !== names.length) return undefined;
        for (const name of names) if (!Object.hasOwn(object, name) || !write(object[name], at++)) return undefined;
      } else return undefined;
    }
    return { tensor: { dtype: this.dtype, shape: [rows.length, ...shape], data }, kinds };
  }

  private valuesOf(row: unknown, kind: RowKind): unknown[] {
    if (kind === 'named') return this.features!.map((f) => (row as Record<string, unknown>)[f.name]);
    if (kind === 'flat' || this.rowShape.length <= 1) return row as unknown[];
    return flatten(row);
  }

  /** Counts what is wrong in rows this codec refuses (they never reach the input checks), then the error. */
  private rejected(rows: unknown[], kinds: RowKind[], details: ErrorDetail[]) {
    if (this.onAnomaly) {
      const counts: Record<AnomalyKind, number> = { missing: 0, non_finite: 0, out_of_range: 0 };
      const width = this.featureBounds.length || 1;
      rows.forEach((row, i) => {
        const values = kinds[i] === 'named' ? this.valuesOf(row, 'named') : flatten(row);
        values.forEach((raw, j) => {
          if (raw === undefined || raw === null) counts.missing++;
          else if (typeof raw === 'number' || typeof raw === 'string') {
            const value = Number(raw);
            const b = this.featureBounds[j % width] ?? this.dtypeBounds;
            if (!Number.isFinite(value)) counts.non_finite++;
            else if (value < b.low || value > b.high) counts.out_of_range++;
          }
        });
      });
      for (const [kind, count] of Object.entries(counts)) if (count > 0) this.onAnomaly(kind as AnomalyKind, count);
    }
    return invalidInput(details);
  }

  private kindOf(row: unknown, place: RowsPlace, i: number, details: ErrorDetail[]): RowKind | undefined {
    if (row !== null && typeof row === 'object' && !Array.isArray(row)) {
      if (this.features) return 'named';
      details.push({
        path: formatPath(place.row(i)),
        message: `this model has no named features; send an array shaped ${this.shapeText()}`,
      });
      return undefined;
    }
    if (Array.isArray(row)) {
      if (this.rowShape.length <= 1 || Array.isArray(row[0])) return 'nested';
      if (this.rowSize !== null) return 'flat';
      details.push({
        path: formatPath(place.row(i)),
        message: `this model's row shape ${this.shapeText()} has open dims; send nested arrays`,
      });
      return undefined;
    }
    const expected = this.features ? 'an object of named features or an array' : `an array shaped ${this.shapeText()}`;
    details.push({ path: formatPath(place.row(i)), message: `expected ${expected}` });
    return undefined;
  }

  /** The model's row shape as messages write it, e.g. [1,8,8] or [?]. */
  private shapeText(): string {
    return `[${this.rowShape.map((d) => d ?? '?').join(',')}]`;
  }

  private check(kind: RowKind, level: ValidationLevel): RowCheck {
    const key = `${kind}:${level}`;
    let check = this.checks.get(key);
    if (!check) {
      check =
        kind === 'named'
          ? compileNamedRowCheck(this.dtype, this.features!, level)
          : compileArrayRowCheck(this.dtype, kind === 'flat' ? [this.rowSize!] : this.rowShape, this.features, level);
      this.checks.set(key, check);
    }
    return check;
  }

  /** Fills open dims from the first row and checks every row agrees, so the rows stack into one tensor. */
  private resolveRowShape(rows: unknown[], kinds: RowKind[], place: RowsPlace): number[] {
    if (this.rowSize !== null) return this.rowShape as number[];
    const details: ErrorDetail[] = [];
    const first = dimsOf(rows[0], this.rowShape.length);
    rows.forEach((row, i) => {
      const dims = dimsOf(row, this.rowShape.length);
      if (kinds[i] !== 'nested' || !isRectangular(row, dims)) {
        details.push({ path: formatPath(place.row(i)), message: 'rows must be rectangular nested arrays' });
      } else if (dims.join() !== first.join()) {
        details.push({
          path: formatPath(place.row(i)),
          message: `shape [${dims.join(',')}] differs from the first row's [${first.join(',')}]`,
        });
      }
    });
    if (details.length > 0) throw invalidInput(details);
    return first;
  }

  /** Positions named as the client sent them: rows[2].sepal_length, rows[0][1][2]. */
  locatorOf(place: RowsPlace, kinds: RowKind[], rowShape: number[]): Locator {
    const rowSize = rowShape.reduce((a, b) => a * b, 1);
    return {
      element: (_input, flat) => {
        const row = Math.floor(flat / rowSize);
        const j = flat % rowSize;
        const kind = kinds[row]!;
        const position =
          kind === 'named'
            ? [this.features![j]!.name]
            : kind === 'flat' || rowShape.length <= 1
              ? [j]
              : unravel(j, rowShape);
        return formatPath([...place.row(row), ...position]);
      },
      tensor: () => place.whole,
    };
  }
}

/** Writes a value that is a number fitting the dtype exactly; false for anything else. */
function writerOf(dtype: DType, data: TypedArray, bounds: Bounds): (value: unknown, index: number) => boolean {
  const kind = dtypes[dtype].kind;
  const integer = kind === 'int' || kind === 'bigint' || kind === 'bool';
  const { low, high } = bounds;
  const fits = (v: unknown): v is number =>
    typeof v === 'number' && v >= low && v <= high && (!integer || Number.isInteger(v));
  if (kind === 'float' || kind === 'int' || kind === 'bool') {
    const array = data as NumericArray;
    return (value, index) => {
      if (!fits(value)) return false;
      array[index] = value;
      return true;
    };
  }
  return (value, index) => {
    if (!fits(value)) return false;
    setElement(data, dtype, index, value);
    return true;
  };
}

/** Nested arrays flattened in order, iteratively: no depth of nesting overflows the stack. */
function flatten(value: unknown): unknown[] {
  const out: unknown[] = [];
  forEachLeaf(value, (leaf) => out.push(leaf));
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
