import net from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything the server wrote, as text. */
  text: string;
}

/**
 * Writes bytes on a fresh TCP connection, half-closes it, and reads what the server answers until
 * it closes: for requests no HTTP client library would send (bad Content-Length, huge headers,
 * invented methods, garbage). `status` is 0 when nothing HTTP came back.
 */
export function rawRequest(port: number, bytes: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // a reset after the answer is still an answer
    socket.on('close', () => resolve(parseAnswer(Buffer.concat(chunks).toString('utf8'))));
    socket.end(bytes);
  });
}

function parseAnswer(text: string): RawAnswer {
  const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
  if (!match) return { status: 0, headers: {}, body: '', text };
  const headers = Object.fromEntries(match[2]!.split('\r\n').map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  const length = headers['content-length'];
  return { status: Number(match[1]), headers, body: length === undefined ? match[3]! : Buffer.from(match[3]!).subarray(0, Number(length)).toString('utf8'), text };
}
