/**
 * What fastify's request hooks cost by themselves: the same bare route (the /predict answer's bytes)
 * with no hook, with the seven hooks the service had per request before issue #20's fold (three
 * onRequest, preParsing, preHandler, onSend, onResponse, with two 'close' listeners and a header, as
 * Host, metrics, in-flight, charset, share trued down, drain and access log had them), and with the
 * two it has now (one onRequest with one 'close' listener and the header, one onResponse). Each hook
 * does nothing else, so the difference is fastify's running of them. Every variant in its own
 * process, in turns, for BENCH_ROUNDS rounds; prints req/s and the server's CPU µs per request.
 *
 *   npx tsx bench/fastify-hooks.ts   (BENCH_CONNECTIONS=1,32 BENCH_SECONDS=3 BENCH_ROUNDS=3)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify, { type FastifyInstance } from 'fastify';
import { median } from './lib.js';

const VARIANTS = ['no hook', 'seven hooks (before)', 'two hooks (now)'] as const;
type Variant = (typeof VARIANTS)[number];
const noop = () => {};

function addHooks(app: FastifyInstance, variant: Variant): void {
  if (variant === 'seven hooks (before)') {
    app.addHook('onRequest', (_request, _reply, done) => done());
    app.addHook('onRequest', (request, reply, done) => {
      reply.raw.once('close', noop);
      reply.header('x-request-id', request.id);
      done();
    });
    app.addHook('onRequest', (_request, reply, done) => {
      reply.raw.once('close', noop);
      done();
    });
    app.addHook('preParsing', (_request, _reply, payload, done) => done(null, payload));
    app.addHook('preHandler', (_request, _reply, done) => done());
    app.addHook('onSend', (_request, _reply, payload, done) => done(null, payload));
    app.addHook('onResponse', (_request, _reply, done) => done());
  } else if (variant === 'two hooks (now)') {
    app.addHook('onRequest', (request, reply, done) => {
      reply.raw.on('close', () => noop());
      reply.header('x-request-id', request.id);
      done();
    });
    app.addHook('onResponse', (_request, _reply, done) => done());
  }
}

// The size of /predict's iris answer (~230 bytes).
const answer = `{"id":"01JEXAMPLE0000000000000000","model":"iris","version":"1","cached":false,"label":"setosa",${'"confidence":0.9811480641365051,"probabilities":{"setosa":0.9811480641365051,'}"versicolor":0.018851403146982193,"virginica":5.020048092774232e-7}}`;

if (process.env.HOOKS_VARIANT) {
  const app = Fastify({ logger: false });
  addHooks(app, process.env.HOOKS_VARIANT as Variant);
  app.post('/predict', async (_request, reply) => reply.header('content-type', 'application/json').send(answer));
  await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
} else {
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const connectionSets = (process.env.BENCH_CONNECTIONS ?? '1,32').split(',').map(Number);
  const servers = new Map<Variant, { port: number; child: ChildProcess }>();
  VARIANTS.forEach((variant, i) => {
    const port = 4300 + i;
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, HOOKS_VARIANT: variant, PORT: String(port) },
      stdio: 'inherit',
    });
    servers.set(variant, { port, child });
  });
  await sleep(3000);
  const cpuMs = (pid: number) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 10 ms ticks
  };
  const body = JSON.stringify({
    model: 'iris',
    features: { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 },
  });
  const run = (port: number, connections: number, duration: number) =>
    autocannon({
      url: `http://127.0.0.1:${port}/predict`,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      connections,
      duration,
    });
  console.log('| hooks | connections | req/s, median (range) | server CPU µs per request, median (range) |');
  console.log('| --- | --- | --- | --- |');
  for (const connections of connectionSets) {
    const results = new Map<Variant, { rps: number[]; micros: number[] }>(
      VARIANTS.map((v) => [v, { rps: [], micros: [] }]),
    );
    for (let round = 0; round < rounds; round++) {
      for (const variant of round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
        const { port, child } = servers.get(variant)!;
        await run(port, connections, 1); // warm-up
        const before = cpuMs(child.pid!);
        const result = await run(port, connections, seconds);
        const used = cpuMs(child.pid!) - before;
        results.get(variant)!.rps.push(result.requests.average);
        results.get(variant)!.micros.push((used * 1000) / result.requests.total);
      }
    }
    const range = (xs: number[], digits: number) =>
      `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
    for (const [variant, { rps, micros }] of results)
      console.log(`| ${variant} | ${connections} | ${range(rps, 0)} | ${range(micros, 1)} |`);
  }
  for (const { child } of servers.values()) child.kill();
}
