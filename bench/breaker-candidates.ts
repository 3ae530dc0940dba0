/**
 * The circuit breakers considered for Redis, side by side in one process, without Redis or HTTP so
 * the machine's other load blurs less: what one call costs closed and succeeding, closed and failing
 * (a full 1 s window behind it), and turned away while open; and, with 16 callers whose calls start
 * to time out after 50 ms (a frozen Redis) following a busy healthy second, how long each takes to
 * open. bench/redis-faults.ts measures the chosen one in the service.
 *   npx tsx bench/breaker-candidates.ts
 */
import { CircuitState, circuitBreaker, handleAll, SamplingBreaker } from 'cockatiel';
import CircuitBreaker from 'opossum';

interface Candidate {
  name: string;
  /** The call, as the adapter would make it; undefined when turned away without a promise. */
  call(action: () => Promise<unknown>): Promise<unknown> | undefined;
  open(): boolean;
  shutdown(): void;
}

const opossum = (name: string, options: CircuitBreaker.Options, gate: boolean) => (): Candidate => {
  const breaker = new CircuitBreaker((action: () => Promise<unknown>) => action(), options);
  breaker.on('failure', () => {});
  breaker.on('reject', () => {});
  return {
    name,
    call: (action) => (gate && !(breaker.closed || breaker.pendingClose) ? undefined : breaker.fire(action)),
    open: () => breaker.opened,
    shutdown: () => breaker.shutdown(),
  };
};

const cockatiel = (): Candidate => {
  const policy = circuitBreaker(handleAll, {
    halfOpenAfter: 5_000,
    breaker: new SamplingBreaker({ threshold: 0.5, duration: 1_000, minimumRps: 10 }),
  });
  return {
    name: 'cockatiel SamplingBreaker (50% of 1 s, 10 rps)',
    call: (action) => (policy.state === CircuitState.HalfOpen ? undefined : policy.execute(action)),
    open: () => policy.state === CircuitState.Open,
    shutdown: () => {},
  };
};

const candidates = [
  opossum(
    'opossum as it was (percentiles, 10 s window, 5 calls)',
    { timeout: 50, resetTimeout: 5_000, errorThresholdPercentage: 50, volumeThreshold: 5, rollingCountTimeout: 10_000 },
    false,
  ),
  opossum(
    'opossum cheap (no percentiles, 1 s window, 10 calls)',
    {
      timeout: false,
      resetTimeout: 5_000,
      errorThresholdPercentage: 50,
      volumeThreshold: 10,
      rollingCountTimeout: 1_000,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    },
    false,
  ),
  opossum(
    'opossum cheap + gate (the adapter)',
    {
      timeout: false,
      resetTimeout: 5_000,
      errorThresholdPercentage: 50,
      volumeThreshold: 10,
      rollingCountTimeout: 1_000,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    },
    true,
  ),
  cockatiel,
];

const ok = () => Promise.resolve('OK');
const fails = () => Promise.reject(new Error('Command timed out'));
const timesOut = () => new Promise((_, reject) => setTimeout(() => reject(new Error('Command timed out')), 50));
const settle = (p: Promise<unknown> | undefined) => p?.catch(() => {});

/** Mean µs per awaited call over `n` calls. */
async function perCall(c: Candidate, action: () => Promise<unknown>, n: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) await settle(c.call(action));
  return +(((performance.now() - started) * 1000) / n).toFixed(2);
}

/** 16 callers: a healthy second, then every call times out after 50 ms; seconds until the breaker opens. */
async function secondsToOpen(c: Candidate): Promise<number | null> {
  let frozen = false;
  let openedAt: number | undefined;
  const deadline = performance.now() + 1_000 + 5_000;
  const caller = async () => {
    while (performance.now() < deadline && openedAt === undefined) {
      await settle(c.call(frozen ? timesOut : ok));
      if (c.open() && frozen) openedAt ??= performance.now();
      await new Promise((r) => setImmediate(r)); // a request's other work: timers get their turn
    }
  };
  const callers = Array.from({ length: 16 }, caller);
  await new Promise((r) => setTimeout(r, 1_000));
  frozen = true;
  const frozenAt = performance.now();
  await Promise.all(callers);
  return openedAt === undefined ? null : +((openedAt - frozenAt) / 1000).toFixed(2);
}

const rows = [];
for (const make of candidates) {
  // closed and succeeding
  const a = make();
  await perCall(a, ok, 20_000); // warm-up
  const success = await perCall(a, ok, 50_000);
  a.shutdown();
  // closed and failing: 200 failures stay far below half of a second of successes
  const failing = make();
  const until = performance.now() + 1_000;
  while (performance.now() < until) await settle(failing.call(ok)); // so the stats walk a full window, as in production
  const failureCost = await perCall(failing, fails, 200);
  failing.shutdown();
  // open: trip it, then measure what a turned-away call costs
  const tripped = make();
  for (let i = 0; i < 50 && !tripped.open(); i++) await settle(tripped.call(fails));
  const rejected = tripped.open() ? await perCall(tripped, ok, 50_000) : Number.NaN;
  tripped.shutdown();
  const timed = make();
  const open = await secondsToOpen(timed);
  timed.shutdown();
  rows.push({ name: a.name, success, failureCost, rejected, open });
}

console.log(
  '\n| breaker | µs per call, closed, success | µs per failing call, 1 s of calls in the window | µs per call turned away while open | s to open, 16 callers timing out after a busy second |',
);
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(`| ${r.name} | ${r.success} | ${r.failureCost} | ${r.rejected} | ${r.open ?? 'never (5 s)'} |`);
