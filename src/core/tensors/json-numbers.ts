/**
 * A JSON array of numbers, flat or nested, read straight from a body's bytes: each number into a
 * Float64Array, with no JS array, string or heap number per element (issue #23). What the bytes
 * said is kept too (`bytes`, `start`, `end`), so that a value can be read again exactly where the
 * double is not enough (64-bit integers, a float on a rounding boundary) and the array can be
 * handed to JSON.parse when a check fails and the old path must say why.
 */
export class JsonNumbers {
  constructor(
    /** The body. */
    readonly bytes: Uint8Array,
    /** Where the array's `[` is. */
    readonly start: number,
    /** Just past its `]`. */
    readonly end: number,
    /** Each number's double: the exact nearest one, or an approximation for those in `inexact`. */
    readonly values: Float64Array,
    /**
     * Pairs (element index, byte offset of its text), in element order, of the numbers whose
     * double above is within a few units in the last place of the nearest one, not surely it (more
     * than 15 significant digits, or a power of ten beyond 10^±22), or is past 2^53.
     */
    readonly inexact: Int32Array,
    /** The nesting, outermost first, when it is rectangular; undefined when it is ragged. */
    readonly dims: number[] | undefined,
  ) {}

  get count(): number {
    return this.values.length;
  }

  /** The array as JSON.parse reads it (the old path, which names what is wrong). */
  materialize(): unknown[] {
    return JSON.parse(latin1(this.bytes, this.start, this.end)) as unknown[];
  }

  /** The text of the number whose first byte is at `offset`. */
  textAt(offset: number): string {
    let end = offset;
    const b = this.bytes;
    for (let c = b[end]; c !== undefined && isNumberByte(c); c = b[++end]);
    return latin1(b, offset, end);
  }
}

/** Bytes that are ASCII as a string. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end);
}

/** Digits, sign, point and exponent: the bytes a JSON number is made of. */
function isNumberByte(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 101 || c === 69;
}

/** 10^0 … 10^22, every one exact in a double: Clinger's fast path. */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * Reads the array whose `[` is at `pos`, if it holds only numbers and arrays of them, nested no
 * deeper than `depthLeft` (counting itself). undefined for anything else: a string, true, an
 * object, an empty array, bad syntax, too deep. The caller then parses it as ordinary JSON, which
 * refuses or reads it. Whitespace is JSON's four characters.
 *
 * Bytes are compared with number literals (48 is '0', 57 '9', 44 ',', 91 '[', 93 ']', 45 '-',
 * 43 '+', 46 '.', 101 and 69 'e' 'E', 32 9 10 13 whitespace): named module constants made this
 * loop 1.5x slower on Node 20. Significant digits: the first 15 are exact in a double whatever they
 * are, 4 more are read, the rest change the value by less than 10^-18 of it and are skipped.
 */
export function scanNumbers(bytes: Uint8Array, pos: number, depthLeft: number): JsonNumbers | undefined {
  const b = bytes;
  let values = new Float64Array(Math.min(1024, (b.length - pos) >> 1));
  let n = 0;
  let inexact = new Int32Array(64);
  let listed = 0;
  // A number whose double is not surely the nearest one, listed (a growable Int32Array: push() is slow here)
  const list = (index: number, offset: number) => {
    if (listed === inexact.length) {
      const grown = new Int32Array(inexact.length * 2);
      grown.set(inexact);
      inexact = grown;
    }
    inexact[listed++] = index;
    inexact[listed++] = offset;
  };
  // The nesting: items in the array open at each level, the first length seen at each, the leaves' level
  const counts: number[] = [0];
  const dims: number[] = [-1];
  let leafLevel = -1;
  let ragged = false;
  let level = 0;
  let i = pos + 1;
  // Past the end, b[i] is undefined, which every comparison below is false for
  let c = b[i]!;
  for (;;) {
    while (c === 32 || c === 10 || c === 13 || c === 9) c = b[++i]!;
    if (c === 91) {
      counts[level]!++;
      if (++level >= depthLeft) return undefined;
      counts[level] = 0;
      if (dims.length <= level) dims.push(-1);
      c = b[++i]!;
      continue;
    }
    // `]` where an item belongs: an empty array, or a comma before it; ordinary JSON reads or refuses it
    if (c === 93) return undefined;
    // A number (JSON's grammar: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)
    const start = i;
    let negative = false;
    if (c === 45) {
      negative = true;
      c = b[++i]!;
    }
    let m = 0;
    let m2 = 0;
    let m2Digits = 0;
    let digits = 0;
    let exp = 0;
    if (c === 48) c = b[++i]!;
    else if (c > 48 && c <= 57) {
      do {
        if (digits < 15) m = m * 10 + (c - 48);
        else if (digits < 19) {
          m2 = m2 * 10 + (c - 48);
          m2Digits++;
        } else exp++; // past 19 digits: the value moves by less than 10^-18 of itself
        digits++;
        c = b[++i]!;
      } while (c >= 48 && c <= 57);
    } else return undefined;
    if (c === 46) {
      c = b[++i]!;
      if (!(c >= 48 && c <= 57)) return undefined;
      // Zeros before the first significant digit, the exact digits, the next four, the rest (ignored)
      if (digits === 0)
        while (c === 48) {
          exp--;
          c = b[++i]!;
        }
      while (digits < 15 && c >= 48 && c <= 57) {
        m = m * 10 + (c - 48);
        exp--;
        digits++;
        c = b[++i]!;
      }
      while (digits < 19 && c >= 48 && c <= 57) {
        m2 = m2 * 10 + (c - 48);
        m2Digits++;
        exp--;
        digits++;
        c = b[++i]!;
      }
      while (c >= 48 && c <= 57) c = b[++i]!;
    }
    if (c === 101 || c === 69) {
      c = b[++i]!;
      let sign = 1;
      if (c === 45) {
        sign = -1;
        c = b[++i]!;
      } else if (c === 43) c = b[++i]!;
      if (!(c >= 48 && c <= 57)) return undefined;
      let e = 0;
      do {
        if (e < 1e8) e = e * 10 + (c - 48);
        c = b[++i]!;
      } while (c >= 48 && c <= 57);
      exp += sign * e;
    }
    let value: number;
    if (m2Digits === 0 && exp >= -22 && exp <= 22) {
      value = exp >= 0 ? m * POW10[exp]! : m / POW10[-exp]!;
      if (value > Number.MAX_SAFE_INTEGER) list(n, start); // exact, but an int64 wants its digits
    } else {
      value = approximate(m * POW10[m2Digits]! + m2, exp);
      list(n, start);
    }
    if (n === values.length) {
      const grown = new Float64Array(values.length * 2 + 16);
      grown.set(values);
      values = grown;
    }
    values[n++] = negative ? -value : value;
    counts[level]!++;
    if (leafLevel === -1) leafLevel = level;
    else if (leafLevel !== level) ragged = true;
    // What follows an item: a comma, or the ends of arrays
    for (;;) {
      while (c === 32 || c === 10 || c === 13 || c === 9) c = b[++i]!;
      if (c === 44) {
        c = b[++i]!;
        break;
      }
      if (c !== 93) return undefined;
      if (dims[level] === -1) dims[level] = counts[level]!;
      else if (dims[level] !== counts[level]) ragged = true;
      c = b[++i]!;
      if (level === 0) {
        const numbers = values.subarray(0, n);
        return new JsonNumbers(bytes, pos, i, numbers, inexact.subarray(0, listed), ragged ? undefined : dims);
      }
      level--;
    }
  }
}

/** digits × 10^exp, within a few units in the last place; 0 or Infinity far out. */
function approximate(digits: number, exp: number): number {
  if (exp >= -22 && exp <= 22) return exp >= 0 ? digits * POW10[exp]! : digits / POW10[-exp]!;
  if (exp > 0) return exp > 330 ? Infinity : digits * 10 ** exp;
  // Two steps keep the intermediate normal: 10^-330 alone would be subnormal
  return exp < -360 ? 0 : digits / 1e22 / 10 ** (-exp - 22);
}
