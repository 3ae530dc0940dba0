import { createServer, type Server } from 'node:http';
import { once } from 'node:events';

/** A span as OTLP/HTTP JSON carries it (ids in hex, times in unix nanoseconds as strings). */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number; message?: string };
}

export const SPAN_KIND_SERVER = 2;
export const STATUS_ERROR = 2;

/**
 * A small OTLP/HTTP receiver: POST /v1/traces with a JSON ExportTraceServiceRequest, answered 200.
 * It keeps the spans it decodes and the resources they came with; `discard` (the bench's sink) only counts
 * spans, by their "spanId" keys, without parsing, so the sink costs the load generator little.
 */
export class OtlpReceiver {
  readonly spans: OtlpSpan[] = [];
  readonly resources: Record<string, unknown>[] = [];
  requests = 0;
  /** Spans received, kept or not. */
  spanCount = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(options: { discard?: boolean } = {}): Promise<OtlpReceiver> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const receiver = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        receiver.requests++;
        if (request.url !== '/v1/traces' || request.headers['content-type'] !== 'application/json') {
          response.writeHead(415).end();
          return;
        }
        const body = Buffer.concat(chunks);
        if (options.discard) receiver.spanCount += occurrences(body, SPAN_ID_KEY);
        else receiver.accept(JSON.parse(body.toString('utf8')));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    return receiver;
  }

  private accept(body: {
    resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
  }): void {
    for (const rs of body.resourceSpans) {
      this.resources.push(attributesOf(rs.resource.attributes));
      for (const ss of rs.scopeSpans) this.spans.push(...ss.spans);
      this.spanCount = this.spans.length;
    }
  }

  trace(traceId: string): OtlpSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  async close(): Promise<void> {
    this.server.close();
    this.server.closeAllConnections();
    await once(this.server, 'close');
  }
}

const SPAN_ID_KEY = Buffer.from('"spanId":');

function occurrences(haystack: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) count++;
  return count;
}

/** OTLP's typed attribute values, as plain ones. */
export function attributesOf(attributes: OtlpSpan['attributes'] = []): Record<string, unknown> {
  return Object.fromEntries(attributes.map(({ key, value }) => [key, Object.values(value)[0]]));
}
