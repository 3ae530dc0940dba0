import { randomUUID } from 'node:crypto';

/**
 * A UUIDv7: the first 48 bits are the Unix time in ms, the rest random. Feedback for an id the
 * store no longer holds can then be told apart: expired (older than the TTL) or unknown.
 * The random bits come from randomUUID() (a v4, whose variant bits v7 shares), which draws from a
 * pooled entropy buffer: a fresh randomBytes(16) per request cost a few µs on every prediction.
 */
export function newPredictionId(now = Date.now()): string {
  const v4 = randomUUID(); // xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx
  return timePrefix(now) + v4.slice(15);
}

// The time part changes once per millisecond, and thousands of ids share it at load.
let prefixMs = -1;
let prefix = '';

/** "tttttttt-tttt-7": the 48-bit millisecond time and the version digit. */
function timePrefix(now: number): string {
  if (now !== prefixMs) {
    const time = now.toString(16).padStart(12, '0').slice(-12);
    prefixMs = now;
    prefix = `${time.slice(0, 8)}-${time.slice(8)}-7`;
  }
  return prefix;
}

/** The time a v7 id was made, or undefined for anything else. */
export function predictionIdTime(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
