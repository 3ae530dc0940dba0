/** A positive integer without a leading zero; 16 digits at most, as 2^53-1 has. */
const CANONICAL = /^[1-9][0-9]{0,15}$/;

/**
 * A version's one spelling, as its folder must be named and as a request must name it: a positive
 * integer written the one way (`1`, `2`, `10`), up to 2^53-1, beyond which neighbours would share a
 * double. One regex test on a request's path (Number() only for a 16-digit spelling).
 */
export function isCanonicalVersion(text: string): boolean {
  return CANONICAL.test(text) && (text.length < 16 || Number(text) <= Number.MAX_SAFE_INTEGER);
}

/**
 * A version folder is named by a positive integer written the one way (`1`, `2`, `10`), as in
 * Triton. Any other spelling of a number (`01`, `1.0`, `+1`) would be a second name for a
 * version, so it is refused, never silently read as that version.
 */
export function versionFolder(name: string): { version: string } | { problem: string; sameAs?: string } {
  if (isCanonicalVersion(name)) return { version: name };
  if (/^[0-9]+$/.test(name)) {
    const value = Number(name);
    if (value === 0) return { problem: 'version 0 is not a version: versions start at 1' };
    if (value > Number.MAX_SAFE_INTEGER)
      return { problem: `a version larger than ${Number.MAX_SAFE_INTEGER} cannot be told apart from its neighbours` };
    return { problem: `not the canonical spelling of version ${value}`, sameAs: String(value) };
  }
  return { problem: 'not a version folder: versions are positive integers (1, 2, 10)' };
}
