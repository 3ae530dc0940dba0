import { fileURLToPath } from 'node:url';
import fp from 'fastify-plugin';
import { Piscina } from 'piscina';
import type { Config } from '../../config.js';
import type { DecodeResult, DecodeTask, WorkerModel } from './decode-task.js';
import { RequestDecoder, type DecodeWorkers } from './request-decoder.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every protocol's way from a body to the data plane's inputs, inline or on a decode worker. */
    requestDecoder: RequestDecoder;
    decodeWorkers: DecodePool;
  }
}

/**
 * Large bodies are parsed and decoded on decode worker threads (piscina), never on the event
 * loop that answers probes: a 760 KB body of nested arrays costs the thread that parses it tens of
 * ms of parse, walk and garbage collection. Bodies below JSON_OFFLOAD_BYTES stay on the main
 * thread, where a round trip to a worker would cost more than the parse. The workers start once
 * the models have loaded (they decode with the models' input specs); until then nothing is
 * offloaded.
 */
/**
 * A decode worker left idle this long exits (piscina starts one again for the next large body,
 * ~50 ms once). Parsing a burst of multi-MiB bodies grows a worker's V8 heap by ~150 MiB, which
 * it keeps while it lives: measured with bench/memory.ts (k8s settings, 32 bodies of 3.8 MiB),
 * RSS 30 s after the burst went from 517 to 374 MiB when the worker exited.
 */
const DECODE_WORKER_IDLE_MS = 30_000;

export class DecodePool implements DecodeWorkers {
  private pool?: Piscina;
  private readonly decoding = new Set<Promise<DecodeResult>>();
  private closed = false;

  constructor(
    readonly thresholdBytes: number,
    private readonly workers: number,
    private readonly nice: number,
    private readonly maxJsonDepth: number,
    private readonly maxRequestRows: number,
  ) {}

  /** Whether a body of this many bytes is decoded off the event loop. */
  wants(bytes: number): boolean {
    return this.pool !== undefined && this.thresholdBytes > 0 && bytes >= this.thresholdBytes;
  }

  /**
   * Starts the decode workers for these models, or, called again after a rescan changed the
   * served versions, a fresh pool that knows them: new decodes go to it at once, and the old pool
   * closes once the decodes it was given are done (workers start on demand, so this costs nothing
   * until a large body arrives).
   */
  start(models: WorkerModel[]): void {
    if (this.thresholdBytes === 0 || this.workers === 0 || this.closed) return;
    const old = this.pool;
    const typescript = fileURLToPath(import.meta.url).endsWith('.ts');
    this.pool = new Piscina({
      filename: fileURLToPath(
        new URL(`./${typescript ? 'dev-decode-worker.mjs' : 'decode-worker.js'}`, import.meta.url),
      ),
      workerData: { models, nice: this.nice, maxJsonDepth: this.maxJsonDepth, maxRequestRows: this.maxRequestRows },
      minThreads: 0,
      maxThreads: this.workers,
      idleTimeout: DECODE_WORKER_IDLE_MS,
    });
    this.pool.on('error', () => {}); // a worker that dies fails its task; piscina replaces it
    if (old) void Promise.allSettled([...this.decoding]).then(() => old.close({ force: false }));
  }

  /**
   * The body is copied to the worker, not moved: when the worker cannot decode for a model (one
   * loaded after it started), the main thread decodes the same bytes itself. A copy of 800 KB is a
   * memcpy; the parse it saves the event loop is ~6 ms.
   */
  decode(task: DecodeTask): Promise<DecodeResult> {
    const decoding = this.pool!.run(task) as Promise<DecodeResult>;
    this.decoding.add(decoding);
    const settled = () => void this.decoding.delete(decoding);
    decoding.then(settled, settled);
    return decoding;
  }

  /**
   * After the decodes already asked for: one may still be waiting for its worker to start, which
   * closing the pool would refuse.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.decoding]);
    await this.pool?.close({ force: false });
  }
}

export default fp<{
  config: Pick<
    Config,
    'JSON_OFFLOAD_BYTES' | 'JSON_DECODE_WORKERS' | 'WORKER_NICE' | 'MAX_JSON_DEPTH' | 'MAX_REQUEST_ROWS'
  >;
}>(
  async (app, { config }) => {
    const pool = new DecodePool(
      config.JSON_OFFLOAD_BYTES,
      config.JSON_DECODE_WORKERS,
      config.WORKER_NICE,
      config.MAX_JSON_DEPTH,
      config.MAX_REQUEST_ROWS,
    );
    app.decorate('decodeWorkers', pool);
    app.decorate(
      'requestDecoder',
      new RequestDecoder({
        maxDepth: config.MAX_JSON_DEPTH,
        workers: pool,
        routing: () => app.router.snapshot((runner) => runner.spec.key),
        anomalies: (model, version, kind, count) => app.metrics.monitoring.featureAnomaly(model, version, kind, count),
      }),
    );
    const servedModels = (): WorkerModel[] =>
      app.router
        .all()
        .flatMap(({ state, runner }) =>
          state === 'ready' && runner
            ? [{ spec: runner.spec, plan: runner.plan, maxQueueRows: runner.policy.maxQueueRows }]
            : [],
        );
    void app.modelsLoaded.then(() => {
      pool.start(servedModels());
      app.models.onChange(() => pool.start(servedModels()));
    });
    // After loading has settled, so a pool started by the callback above is never left running.
    app.addHook('onClose', async () => {
      await app.modelsLoaded;
      await pool.close();
    });
  },
  { name: 'request-decoding', dependencies: ['models', 'metrics'] },
);
