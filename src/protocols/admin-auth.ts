import { createHash, timingSafeEqual } from 'node:crypto';

export type BearerOutcome = 'missing' | 'wrong' | 'ok';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Checks `Authorization: Bearer <token>` against the configured token in constant time: both are
 * hashed first, so the comparison is over equal lengths and leaks neither the token's length nor
 * how much of a guess matched. A header without the Bearer scheme counts as missing (RFC 6750).
 */
export function bearerCheck(token: string): (header: string | undefined) => BearerOutcome {
  const expected = digest(token);
  return (header) => {
    const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
    if (!match) return 'missing';
    return timingSafeEqual(digest(match[1]!), expected) ? 'ok' : 'wrong';
  };
}
