import { errorRequests } from './error-requests.js';
import { modelRequests } from './model-requests.js';
import { JSON_OFFLOAD_BYTES, type DifferentialRequest } from './request-builders.js';

export type { DifferentialRequest } from './request-builders.js';

/**
 * Both builds run with this environment (on top of the defaults): no prediction cache, so `cached`
 * is false in both; one inference worker and one onnxruntime thread, so the numbers do not depend
 * on the machine's cores; a low JSON_OFFLOAD_BYTES, so the large bodies are decoded on a decode
 * worker; no Redis whatever the caller's environment says.
 */
export const SERVER_ENV: Record<string, string> = {
  CACHE_ENABLED: 'false',
  REDIS_URL: '',
  INFERENCE_WORKERS: '1',
  ORT_INTRA_OP_THREADS: '1',
  JSON_OFFLOAD_BYTES: String(JSON_OFFLOAD_BYTES),
  JSON_DECODE_WORKERS: '1',
};

/** The fixed list, in the order it is sent (one at a time, so no two requests share a batch). */
export function differentialRequests(): DifferentialRequest[] {
  const requests = [...modelRequests(), ...errorRequests()];
  const names = new Set<string>();
  for (const { name } of requests) {
    if (names.has(name)) throw new Error(`two requests are named "${name}"`);
    names.add(name);
  }
  return requests;
}
