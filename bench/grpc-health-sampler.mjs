// grpc.health.v1.Health/Check for service "" at <address> every <intervalMs> for <seconds>, on a channel
// of its own from a process of its own (as bench/health-sampler.mjs does for GET /health), and print the
// latencies' p50, p99 and max in ms. An answer other than SERVING counts as a failure.
// Usage: node bench/grpc-health-sampler.mjs 127.0.0.1:8001 3 20
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { sampleFor } from './sampler-loop.mjs';

const [address, seconds = '3', intervalMs = '20'] = process.argv.slice(2);
const client = new Client(address, credentials.createInsecure());
// HealthCheckRequest{service: ""} is zero bytes; HealthCheckResponse{status: SERVING} is 08 01.
const SERVING = Buffer.from([0x08, 0x01]);
const latencies = [];
let failures = 0;
const sample = () =>
  new Promise((resolve) => {
    const started = performance.now();
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b) => b,
      (b) => b,
      Buffer.alloc(0),
      new Metadata(),
      { deadline: Date.now() + 5000 },
      (err, answer) => {
        if (!err && answer.equals(SERVING)) latencies.push(performance.now() - started);
        else failures++;
        resolve();
      },
    );
  });
await sample(); // the connection, unmeasured
latencies.length = 0;
await sampleFor(seconds, intervalMs, sample, latencies, () => failures);
client.close();
