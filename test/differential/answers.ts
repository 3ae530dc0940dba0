import http from 'node:http';
import { ServerProcess } from '../helpers/server-process.js';
import { REPOSITORIES, type Repository } from './models.js';
import { SERVER_ENV, type DifferentialRequest } from './requests.js';

/** What a build answered to one request, as the golden file keeps it. */
export interface Answer {
  status: number;
  contentType?: string;
  inferenceHeaderContentLength?: string;
  /** The body as UTF-8 text, or a binary answer's JSON header; prediction ids replaced by ID_PLACEHOLDER. */
  body?: string;
  /** Base64: the tensor bytes after a binary answer's JSON header, or a whole body that is not UTF-8. */
  base64?: string;
}

/** The golden file: a475eaf's answers, keyed by request name, and how they were recorded. */
export interface RecordedAnswers {
  recordedWith: string;
  env: Record<string, string>;
  answers: Record<string, Answer>;
}

export const GOLDEN_FILE = new URL('../fixtures/answers/a475eaf.json', import.meta.url);

/**
 * A prediction id (a UUIDv7, made anew for every prediction) where an answer carries one: /predict's
 * `id`, OIP's `parameters.prediction_id`. The placeholder has the same length, so a binary answer's
 * Inference-Header-Content-Length still counts its header. The OIP `id` a request sends is echoed
 * as it is, and compared.
 */
const PREDICTION_ID = /"(id|prediction_id)":"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"/g;
export const ID_PLACEHOLDER = '00000000-0000-7000-8000-000000000000';

/**
 * V8's JSON.parse message, which INVALID_JSON passes on, gained " (line 1 column 10)" after Node 20
 * (the golden file's): the same answer on Node 24 otherwise, so that suffix is not compared.
 */
const V8_LINE_COLUMN = / \(line \d+ column \d+\)/g;

const withoutIds = (text: string) =>
  text.replace(PREDICTION_ID, (_, key: string) => `"${key}":"${ID_PLACEHOLDER}"`).replace(V8_LINE_COLUMN, '');

/** UTF-8 text when the bytes are exactly that text, so the comparison stays byte for byte. */
function utf8(bytes: Buffer): string | undefined {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}

export function toAnswer(response: http.IncomingMessage, bytes: Buffer): Answer {
  const contentType = response.headers['content-type'];
  const headerLength = response.headers['inference-header-content-length'];
  const answer: Answer = {
    status: response.statusCode!,
    ...(contentType !== undefined ? { contentType } : {}),
    ...(typeof headerLength === 'string' ? { inferenceHeaderContentLength: headerLength } : {}),
  };
  const split = typeof headerLength === 'string' ? Number(headerLength) : bytes.length;
  const header = utf8(bytes.subarray(0, split));
  if (header === undefined) return { ...answer, base64: bytes.toString('base64') };
  const rest = bytes.subarray(split);
  return { ...answer, body: withoutIds(header), ...(rest.length > 0 ? { base64: rest.toString('base64') } : {}) };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** Sends one request as its bytes (no Accept-Encoding, so no answer is compressed) and reads the whole answer. */
export function send(baseUrl: string, request: DifferentialRequest): Promise<Answer> {
  const headers = { ...request.headers, ...(request.body ? { 'content-length': String(request.body.length) } : {}) };
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      `${baseUrl}${request.path}`,
      { method: request.method, headers, agent },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(toAnswer(response, Buffer.concat(chunks))));
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

/** One server per model repository, with SERVER_ENV; `args` start another build than src/server.ts. */
export class DifferentialServers {
  private constructor(private readonly servers: Record<Repository, ServerProcess>) {}

  static async start(args?: string[]): Promise<DifferentialServers> {
    const servers: Partial<Record<Repository, ServerProcess>> = {};
    const started = await Promise.allSettled(
      (Object.keys(REPOSITORIES) as Repository[]).map(async (repository) => {
        const server = await ServerProcess.start({ ...SERVER_ENV, MODEL_DIR: REPOSITORIES[repository] }, args);
        servers[repository] = server;
        await server.waitUntilReady(60_000);
      }),
    );
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) {
      await Promise.all(Object.values(servers).map((server) => server.stop()));
      throw failed.reason;
    }
    return new DifferentialServers(servers as Record<Repository, ServerProcess>);
  }

  send(request: DifferentialRequest): Promise<Answer> {
    return send(this.servers[request.repository].url, request);
  }

  async stop(): Promise<void> {
    agent.destroy();
    await Promise.all(Object.values(this.servers).map((server) => server.stop()));
  }
}
