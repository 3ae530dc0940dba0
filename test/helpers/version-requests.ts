import type { InjectOptions } from 'fastify';

/**
 * Every place a request names a model version, as a request for version `v` of iris: /predict JSON
 * (small, decoded on the event loop; large, on a decode worker), /predict binary (the query), OIP
 * infer (both ways), metadata and ready. `field` is where a 400 names the version on that path.
 * Small bodies stay under 300 bytes and large ones are over 400, so an app with JSON_OFFLOAD_BYTES
 * between the two decodes each where `offloaded` says.
 */
export interface VersionPath {
  name: string;
  field: string;
  offloaded: boolean;
  request: (v: string) => InjectOptions;
}

const ROW = [5.1, 3.5, 1.4, 0.2];
const LARGE = 40;

export const versionPaths: VersionPath[] = [
  { name: '/predict JSON', field: 'version', offloaded: false, request: (v) => predictJson(v, 1) },
  {
    name: '/predict JSON, on a decode worker',
    field: 'version',
    offloaded: true,
    request: (v) => predictJson(v, LARGE),
  },
  {
    name: '/predict binary',
    field: 'query.version',
    offloaded: false,
    request: (v) => ({
      method: 'POST',
      url: `/predict?model=iris&dtype=float32&shape=1,4&version=${encodeURIComponent(v)}`,
      payload: Buffer.from(new Float32Array(ROW).buffer),
      headers: { 'content-type': 'application/octet-stream' },
    }),
  },
  { name: 'OIP infer', field: 'version', offloaded: false, request: (v) => oipInfer(v, 1) },
  { name: 'OIP infer, on a decode worker', field: 'version', offloaded: true, request: (v) => oipInfer(v, LARGE) },
  {
    name: 'OIP metadata',
    field: 'version',
    offloaded: false,
    request: (v) => ({ method: 'GET', url: `/v2/models/iris/versions/${encodeURIComponent(v)}` }),
  },
  {
    name: 'OIP ready',
    field: 'version',
    offloaded: false,
    request: (v) => ({ method: 'GET', url: `/v2/models/iris/versions/${encodeURIComponent(v)}/ready` }),
  },
];

function predictJson(version: string, rows: number): InjectOptions {
  return {
    method: 'POST',
    url: '/predict',
    payload: JSON.stringify({ model: 'iris', version, instances: Array.from({ length: rows }, () => ROW) }),
    headers: { 'content-type': 'application/json' },
  };
}

export function oipInfer(version: string, rows: number): InjectOptions {
  const body = {
    inputs: [
      { name: 'input', shape: [rows, 4], datatype: 'FP32', data: Array.from({ length: rows }, () => ROW).flat() },
    ],
  };
  return {
    method: 'POST',
    url: `/v2/models/iris/versions/${encodeURIComponent(version)}/infer`,
    payload: JSON.stringify(body),
  };
}

/**
 * What iris (version 1 only) must answer for a version spelled `v`: served only as `1`; other
 * digits name no version; the rest is no version number.
 */
export function expectedForVersion(
  v: string,
  field: string,
): [status: number, code: string | undefined, path: string | undefined] {
  if (v === '1') return [200, undefined, undefined];
  if (/^[0-9]{1,100}$/.test(v)) return [404, 'VERSION_NOT_FOUND', 'version'];
  return [400, 'INVALID_REQUEST', field];
}
