import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * Clients that misbehave the way a shutdown or a timeout must cope with, for
 * test/integration/shutdown.test.ts and bench/shutdown.ts.
 */

/**
 * A client that stops sending: mid-headers, or after the headers and half of a 100-byte body.
 * `closed` resolves with what the server sent before the connection ended.
 */
export function stalledClient(url: string, stage: 'headers' | 'body'): { socket: Socket; closed: Promise<string> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const head = 'POST /predict HTTP/1.1\r\nHost: onnx-serve\r\nContent-Type: application/json\r\n';
  socket.write(stage === 'headers' ? head : `${head}Content-Length: 100\r\n\r\n{"model":"iris","features":`);
  let received = '';
  socket.on('data', (chunk) => (received += String(chunk)));
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  return { socket, closed };
}

/**
 * Keep-alive load against one server while it shuts down, as Kubernetes clients see it.
 *
 * A prober polls /ready on a new connection every few ms, as the kubelet does; its first 503
 * removes the pod from the "endpoints". Each client keeps one keep-alive connection and opens a
 * new one only when the server answered Connection: close. With `followEndpoints`, a client that
 * needs a new connection once the endpoint is gone stops (it would be sent to another pod);
 * without it, it reconnects to this server until it is refused, as a client pointed at the pod
 * itself would.
 */
export interface DrainLoadOptions {
  url: string;
  connections: number;
  /** The body of the i-th request (POSTed as JSON). */
  body: (i: number) => { path: string; json: unknown };
  followEndpoints: boolean;
  probeIntervalMs?: number;
}

export interface DrainLoadResult {
  /** Requests written to a connection the server had accepted. */
  requests: number;
  /** Answers by status code. */
  statuses: Record<number, number>;
  /** Requests sent whose connection was reset or hung up before an answer. */
  resets: number;
  /** Any other error on a sent request, by code. */
  errors: Record<string, number>;
  /** New connections refused: the listener had closed (in a cluster, another pod gets these). */
  refused: number;
  /** What the prober's /ready got: statuses, and 'refused' once nothing listens. */
  ready: Record<string, number>;
  /** Requests answered 2xx after the prober saw the first 503 (the listener kept serving). */
  servedAfterNotReady: number;
}

type Outcome = { status: number; close: boolean } | { error: string };

function send(agent: Agent | false, url: URL, method: string, path: string, json?: unknown): Promise<Outcome> {
  const payload = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, close: res.headers.connection === 'close' }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(payload);
  });
}

/**
 * Starts the load. `done` resolves with the counts once every client has stopped and the prober
 * has been refused; `stop()` ends it early; `current` is the counts so far.
 */
export function startDrainLoad(options: DrainLoadOptions): {
  current: DrainLoadResult;
  done: Promise<DrainLoadResult>;
  stop(): Promise<DrainLoadResult>;
} {
  const url = new URL(options.url);
  const result: DrainLoadResult = {
    requests: 0,
    statuses: {},
    resets: 0,
    errors: {},
    refused: 0,
    ready: {},
    servedAfterNotReady: 0,
  };
  let running = true;
  let endpointPresent = true;
  let sent = 0;
  const count = (record: Record<string | number, number>, key: string | number) =>
    (record[key] = (record[key] ?? 0) + 1);

  const prober = (async () => {
    while (running) {
      const outcome = await send(false, url, 'GET', '/ready');
      const key =
        'status' in outcome ? String(outcome.status) : outcome.error === 'ECONNREFUSED' ? 'refused' : outcome.error;
      count(result.ready, key);
      if (key !== '200') endpointPresent = false;
      if (key === 'refused') break;
      await new Promise((r) => setTimeout(r, options.probeIntervalMs ?? 20));
    }
  })();

  const client = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let needsConnection = true;
    try {
      while (running) {
        if (needsConnection && !endpointPresent && options.followEndpoints) return;
        const { path, json } = options.body(sent++);
        const outcome = await send(agent, url, 'POST', path, json);
        if ('status' in outcome) {
          result.requests++;
          count(result.statuses, outcome.status);
          if (!endpointPresent && outcome.status < 300) result.servedAfterNotReady++;
          needsConnection = outcome.close;
        } else if (outcome.error === 'ECONNREFUSED') {
          result.refused++;
          return; // nothing listens here any more
        } else {
          result.requests++;
          if (outcome.error === 'ECONNRESET' || outcome.error === 'socket hang up' || outcome.error === 'EPIPE')
            result.resets++;
          else count(result.errors, outcome.error);
          needsConnection = true;
        }
      }
    } finally {
      agent.destroy();
    }
  };

  const clients = Promise.all(Array.from({ length: options.connections }, client));
  const done = Promise.all([clients, prober]).then(() => result);
  return {
    current: result,
    done,
    stop: () => {
      running = false;
      return done;
    },
  };
}
