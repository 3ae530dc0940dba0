// The loop both probe samplers run: `sample` every `intervalMs` for `seconds`, then the latencies it
// pushed and its failures printed as JSON (p50, p99, max in ms), as bench/lib.ts's runSampler reads them.
export async function sampleFor(seconds, intervalMs, sample, latencies, failures) {
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
      failures: failures(),
      p50Ms: at(50),
      p99Ms: at(99),
      maxMs: +(latencies.at(-1) ?? NaN).toFixed(2),
    }),
  );
}
