// GET <url> every <intervalMs> for <seconds>, from a process of its own (the load generator's
// busy event loop would delay the samples), and print the latencies' p50, p99 and max in ms.
// Usage: node bench/health-sampler.mjs http://127.0.0.1:8000/health 3 20
import http from 'node:http';
import { sampleFor } from './sampler-loop.mjs';

const [url, seconds = '3', intervalMs = '20'] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const latencies = [];
let failures = 0;
const sample = () =>
  new Promise((resolve) => {
    const started = performance.now();
    const request = http.get(url, { agent, timeout: 5000 }, (response) => {
      response.resume();
      response.on('end', () => {
        if (response.statusCode === 200) latencies.push(performance.now() - started);
        else failures++;
        resolve();
      });
    });
    request.on('error', () => (failures++, resolve()));
    request.on('timeout', () => request.destroy());
  });
await sampleFor(seconds, intervalMs, sample, latencies, () => failures);
agent.destroy();
