// GET <url> every <intervalMs> for <seconds>, from a process of its own (the load generator's
// busy event loop would delay the samples), and print the latencies' p50, p99 and max in ms.
// Usage: node bench/health-sampler.mjs http://127.0.0.1:8000/health 3 20
import http from 'node:http';

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
const end = performance.now() + Number(seconds) * 1000;
while (performance.now() < end) {
  const next = performance.now() + Number(intervalMs);
  await sample();
  await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
}
latencies.sort((a, b) => a - b);
const at = (p) =>
  +(latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN).toFixed(2);
process.stdout.write(
  JSON.stringify({
    samples: latencies.length,
    failures,
    p50Ms: at(50),
    p99Ms: at(99),
    maxMs: +(latencies.at(-1) ?? NaN).toFixed(2),
  }),
);
agent.destroy();
