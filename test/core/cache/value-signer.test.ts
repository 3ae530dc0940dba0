import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signingKey, ValueSigner } from '../../../src/core/cache/value-signer.js';

const signer = new ValueSigner(Buffer.from('a test key of at least thirty-two characters'));
const fields = fc.dictionary(
  fc.string().filter((name) => name !== 'v' && name !== 'mac'),
  fc.jsonValue(),
  { minKeys: 1 },
);

describe('ValueSigner', () => {
  it('gives back exactly the fields it signed, as plain JSON, for the key and version it signed them under', () => {
    fc.assert(
      fc.property(fc.string(), fields, (key, value) => {
        const text = signer.sign(key, 3, value);
        expect(JSON.parse(text)).toMatchObject({ v: 3, mac: expect.any(String) });
        const verified = signer.verify(key, 3, text);
        expect('fields' in verified && JSON.stringify(verified.fields)).toBe(JSON.stringify(value));
      }),
    );
  });

  it('refuses the value under any other key, from another secret, and with any one character changed', () => {
    const other = new ValueSigner(Buffer.from('another key of at least thirty-two characters'));
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fields,
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1 }),
        (key, otherKey, value, at, char) => {
          const text = signer.sign(key, 3, value);
          if (otherKey !== key) expect(signer.verify(otherKey, 3, text)).toEqual({ unsigned: 'signature' });
          expect(other.verify(key, 3, text)).toEqual({ unsigned: 'signature' });
          const i = at % text.length;
          if (char === text[i]) return;
          const changed = text.slice(0, i) + char + text.slice(i + 1);
          expect(signer.verify(key, 3, changed)).not.toHaveProperty('fields');
        },
      ),
    );
  });

  it('tells another format version (a rollout) and text that is not a signed value apart from a bad signature', () => {
    expect(signer.verify('k', 3, signer.sign('k', 2, { a: 1 }))).toEqual({ unsigned: 'version' });
    expect(signer.verify('k', 3, '{"v":3,"outputs":{}}')).toEqual({ unsigned: 'signature' });
    expect(signer.verify('k', 3, `{"v":3,"mac":"${'A'.repeat(43)}","outputs":{}}`)).toEqual({ unsigned: 'signature' });
    for (const text of ['', 'garbage', '[]', '{"outputs":{}}', '{"v":"3"}'])
      expect(signer.verify('k', 3, text)).toEqual({ unsigned: 'format' });
  });

  it('refuses a value longer than the reader allows before computing its HMAC, once its version is this one', () => {
    const text = signer.sign('k', 3, { a: 'x'.repeat(100) });
    expect(signer.verify('k', 3, text, text.length)).toHaveProperty('fields');
    expect(signer.verify('k', 3, text, text.length - 1)).toEqual({ unsigned: 'length' });
    expect(signer.verify('k', 4, text, 10)).toEqual({ unsigned: 'version' }); // the release before's entries stay plain misses
  });

  it('signs only fields that cannot be read as its own', () => {
    expect(() => signer.sign('k', 3, { v: 4, a: 1 })).toThrow();
    expect(() => signer.sign('k', 3, { mac: '' })).toThrow();
    expect(() => signer.sign('k', 3, {})).toThrow();
  });

  it('never makes a value signed under one version verify under another', () => {
    const text = signer.sign('k', 3, { a: 1 });
    expect(signer.verify('k', 4, text.replace('{"v":3,', '{"v":4,'))).toEqual({ unsigned: 'signature' });
  });
});

describe('signingKey', () => {
  const derived = (redisUrl: string, keyPrefix = 'onnx-serve:') =>
    Buffer.from(signingKey({ redisUrl, keyPrefix })).toString('hex');

  it('is CACHE_HMAC_KEY when set', () => {
    expect(
      Buffer.from(signingKey({ hmacKey: 'k'.repeat(32), redisUrl: 'redis://r:6379', keyPrefix: 'p:' })).toString(),
    ).toBe('k'.repeat(32));
  });

  it('is otherwise derived from the Redis URL, credentials included, and the key prefix: the same for every replica of a deployment', () => {
    expect(derived('redis://r:6379')).toBe(derived('redis://r:6379'));
    expect(derived('redis://r:6379')).toHaveLength(64);
    const others = [
      derived('redis://:secret@r:6379'),
      derived('redis://:other@r:6379'),
      derived('redis://r:6379/1'),
      derived('redis://r:6379', 'staging:'),
    ];
    expect(new Set([derived('redis://r:6379'), ...others]).size).toBe(5);
  });
});
