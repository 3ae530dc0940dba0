import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import autocannon from 'autocannon';

export interface LoadResult {
  name: string;
  connections: number;
  requestsPerSec: number;
  p50Ms: number;
  p97_5Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  rowsPerSec: number;
}

/** One autocannon run (as a library). A string body is sent as JSON, a Buffer as raw bytes; no body: GET. */
export async function load(name: string, url: string, body: string | Buffer | undefined, connections: number, seconds: number, rowsPerRequest = 1): Promise<LoadResult> {
  const result = await autocannon({
    url,
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': typeof body === 'string' ? 'application/json' : 'application/octet-stream' },
    body,
    connections,
    duration: seconds,
  });
  return {
    name,
    connections,
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p97_5Ms: result.latency.p97_5,
    p99Ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    rowsPerSec: Math.round(result.requests.average * rowsPerRequest),
  };
}

export function machine() {
  return { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, date: new Date().toISOString() };
}

export function saveResults(file: string, data: unknown): string {
  const dir = new URL('./results/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const path = `${dir}${file}`;
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

export function table(rows: LoadResult[]): string {
  const head = '| run | connections | req/s | rows/s | p50 ms | p97.5 ms | p99 ms | errors |\n| --- | --- | --- | --- | --- | --- | --- | --- |';
  return [
    head,
    ...rows.map((r) => `| ${r.name} | ${r.connections} | ${r.requestsPerSec} | ${r.rowsPerSec} | ${r.p50Ms} | ${r.p97_5Ms} | ${r.p99Ms} | ${r.errors + r.non2xx} |`),
  ].join('\n');
}
