/**
 * The gRPC ceilings, as bench/bare-server.ts is the HTTP one: a unary ModelInfer that answers
 * BARE_GRPC_RESPONSE (a ModelInferResponse's bytes, base64) to any request on GRPC_PORT, doing
 * nothing else. BARE_GRPC=http2: on node:http2 directly (frames written by hand: the floor Node's
 * HTTP/2 allows); BARE_GRPC=grpc-js: through a grpc-js Server, as the service's is. GET /health on
 * PORT, for bench/servers.ts to see it ready.
 */
import { createServer as createHttp } from 'node:http';
import { constants, createServer as createHttp2 } from 'node:http2';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';

const answer = Buffer.from(process.env.BARE_GRPC_RESPONSE ?? '', 'base64');
const port = Number(process.env.GRPC_PORT);
const PATH = '/inference.GRPCInferenceService/ModelInfer';

if (process.env.BARE_GRPC === 'grpc-js') {
  const server = new Server();
  server.addService(
    {
      ModelInfer: {
        path: PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    },
    { ModelInfer: (_call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) => done(null, answer) },
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
} else {
  const framed = Buffer.alloc(5 + answer.length);
  framed.writeUInt32BE(answer.length, 1);
  answer.copy(framed, 5);
  const server = createHttp2();
  server.on('stream', (stream) => {
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond(
        { [constants.HTTP2_HEADER_STATUS]: 200, [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc' },
        { waitForTrailers: true },
      );
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(framed);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
}
createHttp((_req, res) => res.end('{"status":"ok"}')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
