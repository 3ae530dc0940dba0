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
  return parseAnswers(text)[0] ?? { status: 0, headers: {}, body: '', text };
}

/**
 * Every answer in what a connection received, in order (pipelined requests get one each): those
 * with a Content-Length, and a last one without, read to the end. 100 Continue is skipped.
 */
export function parseAnswers(text: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = Buffer.from(text, 'utf8');
  for (;;) {
    const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n/.exec(rest.toString('latin1'));
    if (!match) return answers;
    const status = Number(match[1]);
    const headers = Object.fromEntries(
      match[2] === ''
        ? []
        : match[2]!
            .split('\r\n')
            .map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    rest = rest.subarray(Buffer.byteLength(match[0], 'latin1'));
    if (status === 100) continue;
    const length = headers['content-length'];
    const body = length === undefined ? rest : rest.subarray(0, Number(length));
    answers.push({ status, headers, body: body.toString('utf8'), text });
    if (length === undefined) return answers;
    rest = rest.subarray(Number(length));
  }
}
