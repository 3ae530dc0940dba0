import { z } from 'zod';
import { cpuBudget } from './runtime/cpu-budget.js';
import { httpTimeoutIssues } from './http-timeouts.js';
import { inflightLimits, memoryBudget } from './runtime/memory-budget.js';

/** Environment variables as strings, turned into typed values by one schema. */
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const configSchema = z.object({
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(8000),
  /** The Open Inference Protocol over gRPC (inference.GRPCInferenceService, as Triton on 8001); 0: off. */
  GRPC_PORT: int(0, 65535).default(8001),
  /** Largest gRPC message taken (RESOURCE_EXHAUSTED beyond); default BODY_LIMIT_BYTES, as over HTTP. */
  GRPC_MAX_MESSAGE_BYTES: int(1024, 1024 ** 3).optional(),
  /** The server pings an idle gRPC connection this often; no answer within GRPC_KEEPALIVE_TIMEOUT_MS drops it. */
  GRPC_KEEPALIVE_TIME_MS: int(1000, 2 ** 31 - 1).default(60_000),
  GRPC_KEEPALIVE_TIMEOUT_MS: int(1000, 600_000).default(20_000),
  /**
   * A gRPC connection is asked to go away (GOAWAY) at this age, so that long-lived clients spread
   * over pods added since they connected (an L4 load balancer balances connections, not calls);
   * calls in flight get GRPC_MAX_CONNECTION_AGE_GRACE_MS more. 0: connections live on.
   */
  GRPC_MAX_CONNECTION_AGE_MS: int(0, 2 ** 31 - 1).default(0),
  GRPC_MAX_CONNECTION_AGE_GRACE_MS: int(0, 2 ** 31 - 1).default(30_000),
  MODEL_DIR: z.string().min(1).default('./models'),
  /**
   * Seconds between rescans of MODEL_DIR (new, changed and removed versions load and unload without
   * a restart); 0: never.
   */
  MODEL_POLL_INTERVAL_S: z.coerce.number().min(0).max(86_400).default(0),
  /**
   * Turns on the control API (POST /v2/repository/...): every call needs
   * `Authorization: Bearer <ADMIN_TOKEN>`; unset, those routes do not exist.
   */
  ADMIN_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Largest request body accepted; a 3x48x192 float image is ~500 KB as JSON. */
  BODY_LIMIT_BYTES: int(1024, 1024 ** 3).default(4 * 1024 * 1024),
  /** JSON bodies nested deeper than this many levels are refused (400); OIP data of rank 32 needs 35. */
  MAX_JSON_DEPTH: int(8, 10_000).default(64),
  /** JSON bodies from this size on are parsed and decoded on a decode worker, off the event loop; 0: never. */
  JSON_OFFLOAD_BYTES: int(0, 1024 ** 3).default(64 * 1024),
  /** Threads decoding large JSON bodies. */
  JSON_DECODE_WORKERS: int(0, 64).default(1),
  /** Worker threads running inference; default: the CPU budget (cgroup quota or cores). */
  INFERENCE_WORKERS: int(1, 256).optional(),
  /** onnxruntime intra-op threads per worker; default: CPU budget / workers, at least 1. */
  ORT_INTRA_OP_THREADS: int(1, 256).optional(),
  ORT_INTER_OP_THREADS: int(1, 256).default(1),
  /**
   * How much lower the inference and decode threads' priority is than the event loop's (Linux nice,
   * per thread); 0 keeps them equal.
   */
  WORKER_NICE: int(0, 19).default(10),
  /** Models faster than this per row (µs, measured on workers) move to the main thread; 0 keeps all on workers. */
  INLINE_MAX_ROW_MICROS: int(0, 10_000).default(50),
  /** Default validation level when neither the model nor the request chooses one. */
  VALIDATION_LEVEL: z.enum(['strict', 'permissive']).default('strict'),
  /** When true, one model failing to load keeps /ready at 503; by default it is reported and the rest serve. */
  READY_REQUIRES_ALL_MODELS: bool.default(false),
  /**
   * Exit 1 once loading ends if the repository cannot be read, holds no model, or a version failed
   * to load (Triton's --exit-on-error); by default the rest serve.
   */
  EXIT_ON_LOAD_ERROR: bool.default(false),
  /** Time allowed for in-flight requests to finish after SIGTERM before the process is forced out. */
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  /**
   * After SIGTERM, /ready answers 503 but the listener serves this long, while endpoints are
   * removed (src/shutdown.ts).
   */
  SHUTDOWN_DELAY_MS: int(0, 600_000).default(0),
  /**
   * HTTP timeouts (src/http-timeouts.ts checks their relations): headers, then the whole request
   * (the slow-body limit), 408 past either.
   */
  HTTP_HEADERS_TIMEOUT_MS: int(1, 600_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: int(1, 3_600_000).default(30_000),
  /** An idle keep-alive connection is closed after this; above common load balancers' 60 s, so they close first. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(1, 3_600_000).default(72_000),
  /**
   * A socket with no traffic either way (a client that stops reading the answer) is destroyed after
   * this; above REQUEST_TIMEOUT_MS.
   */
  HTTP_IDLE_TIMEOUT_MS: int(1, 3_600_000).default(60_000),
  /**
   * Requests one connection may have in progress at once (pipelined); more wait unread, and a
   * client with twice as many outstanding is disconnected.
   */
  HTTP_MAX_PIPELINED: int(1, 1024).default(8),
  /**
   * Answer bytes one connection's socket may hold unsent (a client that does not read) before its
   * next request waits.
   */
  HTTP_MAX_QUEUED_BYTES: int(16 * 1024, 1024 ** 3).default(1024 * 1024),

  /** Dynamic batching defaults; a model's model.json `batching` overrides them. */
  BATCH_MAX_ROWS: int(1, 65_536).default(64),
  BATCH_MAX_DELAY_MS: z.coerce.number().min(0).max(1000).default(0),
  BATCH_MAX_QUEUE_ROWS: int(1, 10_000_000).default(4096),
  /** Default deadline of a prediction; `timeout_ms` in a request sets its own. */
  REQUEST_TIMEOUT_MS: int(1, 600_000).default(30_000),

  /** Memory bounds (docs/reliability.md#memory-bounds). Rows one request may carry, on every protocol (413 above). */
  MAX_REQUEST_ROWS: int(1, 10_000_000).default(10_000),
  /**
   * Request body bytes and decoded rows all requests in flight may hold (503 + Retry-After above);
   * default: from the pod's memory.
   */
  MAX_INFLIGHT_BYTES: int(1024, 64 * 1024 ** 3).optional(),
  MAX_INFLIGHT_ROWS: int(1, 100_000_000).optional(),
  /**
   * Shadow traffic (model.json traffic.shadows): copies of inputs held for shadows at once (more
   * are shed; 0: no shadows), and a shadow request's deadline.
   */
  SHADOW_MAX_INFLIGHT: int(0, 10_000).default(8),
  SHADOW_TIMEOUT_MS: int(1, 600_000).default(5000),
  /** onnxruntime's CPU memory arena and memory-pattern planning, per session (measured in docs/reliability.md). */
  ORT_CPU_MEM_ARENA: bool.default(true),
  ORT_MEM_PATTERN: bool.default(true),
  /**
   * After this many seconds without inference, and only if RSS grew, the inference workers are
   * replaced by fresh ones and freed memory goes back to the OS; 0: never.
   */
  INFERENCE_IDLE_RECYCLE_S: z.coerce.number().min(0).max(86_400).default(40),

  /** Feature drift: PSI over the last DRIFT_WINDOW_ROWS rows; NaN until DRIFT_MIN_ROWS have been seen. */
  DRIFT_WINDOW_ROWS: int(10, 1_000_000).default(1000),
  DRIFT_MIN_ROWS: int(1, 1_000_000).default(100),
  /** Ground truth: predictions are kept this long (and at most this many) for POST /feedback to join. */
  FEEDBACK_TTL_SECONDS: int(1, 90 * 24 * 3600).default(24 * 3600),
  FEEDBACK_MAX_PREDICTIONS: int(1, 100_000_000).default(100_000),
  /** Accuracy (or mean absolute error) is over the last ACCURACY_WINDOW labelled predictions. */
  ACCURACY_WINDOW: int(1, 1_000_000).default(500),
  /** Dollars per CPU-hour; when set, ml_prediction_cost_dollars_total is exported. */
  PRICE_PER_CPU_HOUR: z.coerce.number().min(0).optional(),

  /** Prediction cache: an in-process LRU (L1), and Redis (L2) shared by replicas when REDIS_URL is set. */
  CACHE_ENABLED: bool.default(true),
  CACHE_MAX_ENTRIES: int(1, 100_000_000).default(100_000),
  CACHE_MAX_BYTES: int(1024, 64 * 1024 ** 3).default(64 * 1024 * 1024),
  /**
   * A model version whose looked-up rows hit less often than this skips the cache (probing 1
   * request in 32); 0: always use it.
   */
  CACHE_MIN_HIT_RATE: z.coerce.number().min(0).max(1).default(0.1),
  /** Default TTL; a model's model.json cache.ttl_seconds overrides it. */
  CACHE_TTL_SECONDS: int(1, 30 * 24 * 3600).default(300),
  /** redis://[:password@]host:port[/db] or rediss:// for TLS. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'a redis:// or rediss:// URL')
    .optional(),
  REDIS_KEY_PREFIX: z.string().max(64).default('onnx-serve:'),
  /**
   * Signs every value written to Redis (HMAC-SHA256); unset: a key derived from REDIS_URL and
   * REDIS_KEY_PREFIX (docs/reliability.md#redis-is-not-trusted).
   */
  CACHE_HMAC_KEY: z.string().min(32, 'at least 32 characters').optional(),
  /** Bound on every Redis command: past it the lookup is a miss. */
  REDIS_TIMEOUT_MS: int(1, 10_000).default(50),
  /** How long the circuit breaker keeps a failing Redis out before probing it again. */
  REDIS_BREAKER_RESET_MS: int(100, 600_000).default(5_000),

  /**
   * The inference log (docs/inference-log.md): sampled predictions' inputs and outputs, and the
   * feedback on them, as JSON lines. off, jsonl (files in INFERENCE_LOG_DIR), redis (a stream) or
   * cloudevents (HTTP POSTs to INFERENCE_LOG_URL, as KServe's logger sends them).
   */
  INFERENCE_LOG: z.enum(['off', 'jsonl', 'redis', 'cloudevents'], 'off, jsonl, redis or cloudevents').default('off'),
  /** cloudevents: the collector (a Knative broker, Vector, Fluent Bit...), and the events' ce-source. */
  INFERENCE_LOG_URL: z.url({ protocol: /^https?$/ }).optional(),
  INFERENCE_LOG_SOURCE: z.string().min(1).default('onnx-serve'),
  /** cloudevents: binary (one POST per event, KServe's and Knative's way) or batch (one per batch). */
  INFERENCE_LOG_CE_MODE: z.enum(['binary', 'batch'], 'binary or batch').default('binary'),
  /** The fraction of predictions logged (model.json's inference_log.sample overrides it per model). */
  INFERENCE_LOG_SAMPLE: z.coerce.number().min(0).max(1).default(1),
  /** Which records a logged prediction makes: request, response or all. */
  INFERENCE_LOG_MODE: z.enum(['request', 'response', 'all']).default('all'),
  /** Whether request records carry the input tensors (tensors) or only their ids (omit). */
  INFERENCE_LOG_INPUTS: z.enum(['tensors', 'omit']).default('tensors'),
  /** jsonl: the directory; files rotate past INFERENCE_LOG_FILE_BYTES. */
  INFERENCE_LOG_DIR: z.string().min(1).default('inference-log'),
  INFERENCE_LOG_FILE_BYTES: int(1024, 1024 ** 4).default(64 * 1024 ** 2),
  /** redis: the server (REDIS_URL by default), the stream, and about how many entries it keeps. */
  INFERENCE_LOG_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'a redis:// or rediss:// URL')
    .optional(),
  INFERENCE_LOG_STREAM: z.string().min(1).max(256).default('onnx-serve:inference-log'),
  INFERENCE_LOG_STREAM_MAXLEN: int(1, 1_000_000_000).default(1_000_000),
  /** Records held for the sink at most: past it they are dropped and counted, never waited for. */
  INFERENCE_LOG_QUEUE: int(1, 10_000_000).default(10_000),
  INFERENCE_LOG_BATCH: int(1, 100_000).default(256),
  INFERENCE_LOG_FLUSH_MS: int(1, 60_000).default(200),
  /** Attempts per batch before its records count as failed; the first retry waits this long, doubling. */
  INFERENCE_LOG_ATTEMPTS: int(1, 100).default(3),
  INFERENCE_LOG_BACKOFF_MS: int(1, 60_000).default(100),
  /** The HMAC-SHA256 key of model.json's `inference_log.redact` "hash"; unset: hashed features are dropped. */
  INFERENCE_LOG_HASH_KEY: z.string().min(32, 'at least 32 characters').optional(),
  /** A write to the sink (a Redis command, an HTTP POST) that takes longer is failed (and retried). */
  INFERENCE_LOG_TIMEOUT_MS: int(1, 600_000).default(2_000),

  /**
   * OpenTelemetry tracing, by the standard OTEL_* variables: on when an OTLP endpoint or
   * OTEL_TRACES_EXPORTER=otlp is set (src/adapters/tracing/).
   */
  OTEL_SDK_DISABLED: bool.default(false),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none'], 'otlp or none (the only exporters built in)').optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** Spans are sent as OTLP/HTTP JSON; protobuf and gRPC are refused rather than silently not used. */
  OTEL_EXPORTER_OTLP_PROTOCOL: z.literal('http/json', 'http/json (the only OTLP encoding built in)').optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.literal('http/json', 'http/json (the only OTLP encoding built in)').optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('onnx-serve'),
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
  /** The batch span processor: spans past a full queue are dropped, never waited for. */
  OTEL_BSP_SCHEDULE_DELAY: int(0, 3_600_000).default(5000),
  OTEL_BSP_EXPORT_TIMEOUT: int(1, 3_600_000).default(30_000),
  OTEL_BSP_MAX_QUEUE_SIZE: int(1, 10_000_000).default(2048),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: int(1, 10_000_000).default(512),
});

/** Variables whose value never appears in an error message (nor in a ConfigMap: test/deploy). */
export const SECRETS = new Set([
  'ADMIN_TOKEN',
  'CACHE_HMAC_KEY',
  'REDIS_URL',
  'INFERENCE_LOG_REDIS_URL',
  'INFERENCE_LOG_HASH_KEY',
]); // REDIS_URL: its password, and without CACHE_HMAC_KEY the signing key's source

export type EnvConfig = z.infer<typeof configSchema>;

export interface Config extends Omit<
  EnvConfig,
  'INFERENCE_WORKERS' | 'ORT_INTRA_OP_THREADS' | 'MAX_INFLIGHT_BYTES' | 'MAX_INFLIGHT_ROWS'
> {
  INFERENCE_WORKERS: number;
  ORT_INTRA_OP_THREADS: number;
  MAX_INFLIGHT_BYTES: number;
  MAX_INFLIGHT_ROWS: number;
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
  }
}

/** Reads the config from an environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cpus = cpuBudget(), memory = memoryBudget()): Config {
  const known = Object.fromEntries(
    Object.keys(configSchema.shape)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  );
  const parsed = configSchema.safeParse(known);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (issue) =>
          `${issue.path.join('.')}=${SECRETS.has(String(issue.path[0])) ? '(hidden)' : JSON.stringify(known[String(issue.path[0])])}: ${issue.message}`,
      ),
    );
  }
  const timeoutIssues = httpTimeoutIssues(parsed.data);
  if (timeoutIssues.length > 0) throw new ConfigError(timeoutIssues);
  const workers = parsed.data.INFERENCE_WORKERS ?? cpus;
  const { issues, ...inflight } = inflightLimits(parsed.data, memory);
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    ...parsed.data,
    INFERENCE_WORKERS: workers,
    ORT_INTRA_OP_THREADS: parsed.data.ORT_INTRA_OP_THREADS ?? Math.max(1, Math.floor(cpus / workers)),
    ...inflight,
  };
}
