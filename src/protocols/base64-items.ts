import { invalidAt } from '../core/tensors/tensor-errors.js';

/** Standard or URL-safe base64, padded or not. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$|^[A-Za-z0-9_-]*={0,2}$/;
/** A data URL's head (`data:image/png;base64,`), which clients copying from a browser often keep. */
const DATA_URL = /^data:[\w.+-]+\/[\w.+-]+;base64,/;

/**
 * An encoded file (an image) sent in JSON as base64, to its bytes; 400 naming `where` when it is
 * not a string of base64. Whitespace (line breaks every 76 characters) is allowed.
 */
export function base64Item(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string') throw invalidAt(where, `expected a base64 string, got ${kindOf(value)}`);
  const text = value.replace(DATA_URL, '').replace(/\s+/g, '');
  if (text.length === 0) throw invalidAt(where, 'empty: expected the file as base64');
  if (!BASE64.test(text) || text.length % 4 === 1)
    throw invalidAt(where, 'not base64: expected the file encoded as standard or URL-safe base64');
  return Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
