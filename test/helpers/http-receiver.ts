import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST an HttpReceiver took (answered 2xx). */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * An HTTP endpoint on loopback that keeps every request it accepts, in order: a collector, a
 * Knative broker's ingress, any sink the service posts to. `status` is what it answers; requests
 * answered otherwise are not kept.
 */
export class HttpReceiver {
  received: Received[] = [];
  status = 202;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<HttpReceiver> {
    const receiver: HttpReceiver = new HttpReceiver(
      createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (receiver.status < 300)
            receiver.received.push({ path: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
          res.writeHead(receiver.status).end();
        });
      }),
    );
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** http://127.0.0.1:<port><path> */
  url(path = '/'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
