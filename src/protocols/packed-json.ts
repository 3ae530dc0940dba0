import { scanNumbers } from '../core/tensors/json-numbers.js';

/**
 * Where a body's tensor data is: keys to follow, '*' for every item of an array, and `true` where
 * an array of numbers is read as JsonNumbers rather than as JS arrays.
 */
export interface PackPlaces {
  readonly [key: string]: PackPlaces | true;
}

/** The data of every OIP input. */
export const OIP_TENSORS: PackPlaces = { inputs: { '*': { data: true } } };
/** Each of /predict's rows. */
export const PREDICT_ROWS: PackPlaces = { instances: { '*': true } };

/** Bodies from this size on are read by the byte reader; below it JSON.parse is faster (bench/builds.ts, iris). */
const READER_MIN_BYTES = 2048;

/**
 * The tensor places to read a body with: for a large body, or a small one holding a run of 16 or
 * more digits (a 64-bit integer JSON.parse would round); otherwise none, and JSON.parse reads it.
 */
export function placesFor(body: Uint8Array, places: PackPlaces): PackPlaces | undefined {
  if (body.length >= READER_MIN_BYTES) return places;
  let run = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    run = c >= 48 && c <= 57 ? run + 1 : 0;
    if (run === 16) return places;
  }
  return undefined;
}

/** Thrown inside the reader where JSON.parse must be asked instead; never leaves this module. */
class AskJsonParse extends Error {}
/** One instance, made once: a refusal costs no stack trace. */
const ASK_JSON_PARSE = new AskJsonParse('ask JSON.parse');

/**
 * A JSON body read from its bytes as JSON.parse reads its UTF-8 text, except that an array of
 * numbers at one of `places` becomes a JsonNumbers (json-numbers.ts): no JS value per element.
 * undefined where this reader does not decide: bad syntax, a key that JSON.parse and an object
 * literal treat differently (`__proto__`) or that secure-json-parse checks (`constructor`), nesting
 * past maxDepth, an empty body. The caller then parses it the old way, which reads it or says
 * what is wrong, in its usual words.
 */
export function parsePackedJson(body: Uint8Array, maxDepth: number, places: PackPlaces): unknown {
  const reader = new Reader(body, maxDepth);
  try {
    const value = reader.value(0, places);
    reader.space();
    return reader.at === body.length ? value : undefined;
  } catch (err) {
    // RangeError: the call stack, at a huge MAX_JSON_DEPTH
    if (err === ASK_JSON_PARSE || err instanceof RangeError) return undefined;
    throw err;
  }
}

class Reader {
  at = 0;
  private readonly text: Buffer;
  constructor(
    private readonly b: Uint8Array,
    private readonly maxDepth: number,
  ) {
    this.text = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Bytes as a string: short ASCII ones without a call into C++. */
  private slice(start: number, end: number, ascii: boolean): string {
    if (!ascii) return this.text.toString('utf8', start, end);
    if (end - start > 64) return this.text.toString('latin1', start, end);
    return String.fromCharCode.apply(null, this.b.subarray(start, end) as unknown as number[]);
  }

  space(): void {
    const b = this.b;
    let c = b[this.at];
    while (c === 32 || c === 10 || c === 13 || c === 9) c = b[++this.at];
  }

  /** The value at the cursor, inside `depth` containers; `place`: what of it is tensor data. */
  value(depth: number, place: PackPlaces | true | undefined): unknown {
    this.space();
    const c = this.b[this.at];
    if (c === 123) return this.object(depth + 1, place === true ? undefined : place);
    if (c === 91) {
      if (depth + 1 > this.maxDepth) throw ASK_JSON_PARSE;
      if (place === true) {
        const numbers = scanNumbers(this.b, this.at, this.maxDepth - depth);
        if (numbers) {
          this.at = numbers.end;
          return numbers;
        }
      }
      return this.array(depth + 1, place === true ? undefined : place?.['*']);
    }
    if (c === 34) return this.string();
    if (c === 116) return this.literal('true', true);
    if (c === 102) return this.literal('false', false);
    if (c === 110) return this.literal('null', null);
    return this.number();
  }

  private object(depth: number, place: PackPlaces | undefined): Record<string, unknown> {
    if (depth > this.maxDepth) throw ASK_JSON_PARSE;
    const b = this.b;
    const object: Record<string, unknown> = {};
    this.at++;
    this.space();
    if (b[this.at] === 125) {
      this.at++;
      return object;
    }
    for (;;) {
      if (b[this.at] !== 34) throw ASK_JSON_PARSE;
      const key = this.string();
      if (key === '__proto__' || key === 'constructor') throw ASK_JSON_PARSE;
      this.space();
      if (b[this.at++] !== 58) throw ASK_JSON_PARSE;
      object[key] = this.value(depth, place && Object.hasOwn(place, key) ? place[key] : undefined);
      this.space();
      const c = b[this.at++];
      if (c === 125) return object;
      if (c !== 44) throw ASK_JSON_PARSE;
      this.space();
    }
  }

  private array(depth: number, place: PackPlaces | true | undefined): unknown[] {
    const b = this.b;
    const array: unknown[] = [];
    this.at++;
    this.space();
    if (b[this.at] === 93) {
      this.at++;
      return array;
    }
    for (;;) {
      array.push(this.value(depth, place));
      this.space();
      const c = b[this.at++];
      if (c === 93) return array;
      if (c !== 44) throw ASK_JSON_PARSE;
    }
  }

  private string(): string {
    const b = this.b;
    const start = this.at;
    let escaped = false;
    let ascii = true;
    let i = start + 1;
    for (;;) {
      const c = b[i];
      if (c === undefined || c < 32) throw ASK_JSON_PARSE;
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c > 127) ascii = false;
      i++;
    }
    this.at = i + 1;
    if (escaped) {
      try {
        return JSON.parse(this.slice(start, i + 1, ascii)) as string;
      } catch {
        throw ASK_JSON_PARSE;
      }
    }
    return this.slice(start + 1, i, ascii);
  }

  private literal(word: string, value: boolean | null): boolean | null {
    const b = this.b;
    for (let k = 0; k < word.length; k++) if (b[this.at + k] !== word.charCodeAt(k)) throw ASK_JSON_PARSE;
    this.at += word.length;
    return value;
  }

  /** A number as JSON.parse reads it: its grammar checked here, its value by Number(), which rounds the same. */
  private number(): number {
    const b = this.b;
    const start = this.at;
    let i = start;
    if (b[i] === 45) i++;
    if (b[i] === 48) i++;
    else if (isDigit(b[i])) while (isDigit(b[i])) i++;
    else throw ASK_JSON_PARSE;
    if (b[i] === 46) {
      if (!isDigit(b[++i])) throw ASK_JSON_PARSE;
      while (isDigit(b[i])) i++;
    }
    if (b[i] === 101 || b[i] === 69) {
      i++;
      if (b[i] === 43 || b[i] === 45) i++;
      if (!isDigit(b[i])) throw ASK_JSON_PARSE;
      while (isDigit(b[i])) i++;
    }
    this.at = i;
    return Number(this.slice(start, i, true));
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}
