import { z } from 'zod';
import { parseEnvelope } from './envelope.js';

const NOT_A_VERSION = 'a version number: a positive integer in decimal digits, as 1, 2, 10';

/**
 * How a request names a version, on every protocol (the OIP path, the /predict body and query):
 * decimal digits. Anything else (`1.0`, `+1`, `0x1`, ` 1`, `-0`, full-width digits) is no version
 * number: 400 INVALID_REQUEST naming the field. Digits go to the registry, which serves only a
 * version's one spelling: `01`, `0` or a 20-digit number get 404 VERSION_NOT_FOUND, as an unknown
 * version does in Triton. At most 100 digits, as fastify bounds a path segment.
 */
export const versionText = z
  .string()
  .max(100)
  .regex(/^[0-9]+$/, NOT_A_VERSION)
  .describe('a version number; without it, the highest ready version');

/**
 * /predict's JSON `version`: the digits, or a JSON number, read by its value (`1` and `1.0` are the
 * same JSON number; its toString() is its digits). No transform here: zod would then leave the
 * body's example out of /openapi.json.
 */
export const versionField = z.union([versionText, z.number().int().min(0)], { error: NOT_A_VERSION });

/** An OIP path's version: undefined when the route names none; 400 at `version` when it is no version number. */
export function versionOfPath(version: string | undefined): string | undefined {
  return version === undefined ? undefined : parseEnvelope(versionText, version, 'version');
}
