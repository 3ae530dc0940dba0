/**
 * A version folder is named by a positive integer written the one way (`1`, `2`, `10`), as in
 * Triton. Any other spelling of a number (`01`, `1.0`, `+1`) would be a second name for a
 * version, so it is refused, never silently read as that version.
 */
export function versionFolder(name: string): { version: string } | { problem: string; sameAs?: string } {
  if (/^[1-9][0-9]*$/.test(name) && Number(name) <= Number.MAX_SAFE_INTEGER) return { version: name };
  if (/^[0-9]+$/.test(name)) {
    const value = Number(name);
    if (value === 0) return { problem: 'version 0 is not a version: versions start at 1' };
    if (value > Number.MAX_SAFE_INTEGER) return { problem: `a version larger than ${Number.MAX_SAFE_INTEGER} cannot be told apart from its neighbours` };
    return { problem: `not the canonical spelling of version ${value}`, sameAs: String(value) };
  }
  return { problem: 'not a version folder: versions are positive integers (1, 2, 10)' };
}
