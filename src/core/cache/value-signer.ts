import { createHmac, createSecretKey, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Why a value read back from the shared tier is not used. */
export type Unsigned =
  /** Written in another format version: an older or newer release during a rollout. Not an attack. */
  | 'version'
  /** Not a value this service writes at all. */
  | 'format'
  /** In our format, but not signed by this deployment for this key: planted, altered, or moved from another key. */
  | 'signature'
  /** Longer than any value the reader expects: refused before its HMAC is computed. */
  | 'length';

const MAC_CHARS = 43; // an HMAC-SHA256 in base64url, unpadded
const versionOf = /^\{"v":(\d{1,9}),/;

/**
 * Signs what the service writes to Redis and verifies what it reads back: Redis is shared, and
 * whoever can write to it could otherwise plant answers. A value is plain JSON,
 * `{"v":<version>,"mac":"<HMAC-SHA256>",...fields}`; the HMAC covers the Redis key, the version and
 * every byte after the mac, so a value cannot be altered, nor copied to another key (another row,
 * model or version). It is checked before the text is parsed: an unsigned value costs one HMAC, never a parse.
 */
export class ValueSigner {
  private readonly secret: KeyObject;

  constructor(secret: Uint8Array) {
    this.secret = createSecretKey(secret);
  }

  /** The signed value of `fields` (a non-empty object, without fields named `v` or `mac`) under `key`. */
  sign(key: string, version: number, fields: object): string {
    if (Object.hasOwn(fields, 'v') || Object.hasOwn(fields, 'mac'))
      throw new Error('a signed value has its own "v" and "mac"');
    const body = JSON.stringify(fields).slice(1); // `"a":1,...}`: the fields and the closing brace
    if (body === '}') throw new Error('a signed value has fields');
    return `{"v":${version},"mac":"${this.mac(key, version, body)}",${body}`;
  }

  /** The fields of a value signed under `key` in this version, parsed, or why they are not to be used. */
  verify(
    key: string,
    version: number,
    text: string,
    maxChars = Number.POSITIVE_INFINITY,
  ): { fields: unknown } | { unsigned: Unsigned } {
    const found = versionOf.exec(text);
    if (!found) return { unsigned: 'format' };
    if (Number(found[1]) !== version) return { unsigned: 'version' };
    if (text.length > maxChars) return { unsigned: 'length' };
    const macAt = found[0].length + '"mac":"'.length;
    const bodyAt = macAt + MAC_CHARS + '",'.length;
    if (text.slice(found[0].length, macAt) !== '"mac":"' || text.slice(macAt + MAC_CHARS, bodyAt) !== '",')
      return { unsigned: 'signature' };
    const body = text.slice(bodyAt);
    // Compared as text, not decoded: base64 decoding ignores the last character's spare bits.
    const given = Buffer.from(text.slice(macAt, macAt + MAC_CHARS));
    const expected = Buffer.from(this.mac(key, version, body));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { unsigned: 'signature' };
    try {
      return { fields: JSON.parse(`{${body}`) };
    } catch {
      return { unsigned: 'format' }; // signed, yet not JSON: never written so by this service
    }
  }

  /** The key's length first, so no split of key + body can be read as another key and body. */
  private mac(key: string, version: number, body: string): string {
    return createHmac('sha256', this.secret)
      .update(`${Buffer.byteLength(key)}:${key}${version}:`)
      .update(body)
      .digest('base64url');
  }
}

/**
 * The signing key: CACHE_HMAC_KEY when set. Without it, one derived (HKDF) from REDIS_URL,
 * credentials included, and REDIS_KEY_PREFIX: it keeps out writers who do not know this
 * deployment's Redis URL, not those who do (docs/reliability.md#redis-is-not-trusted).
 */
export function signingKey(settings: { hmacKey?: string; redisUrl: string; keyPrefix: string }): Uint8Array {
  if (settings.hmacKey !== undefined) return Buffer.from(settings.hmacKey, 'utf8');
  return new Uint8Array(hkdfSync('sha256', settings.redisUrl, settings.keyPrefix, 'onnx-serve redis values', 32));
}
