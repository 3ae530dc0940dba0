/**
 * The layer rules of docs/architecture.md, checked in CI (npm run lint:deps): no import cycle,
 * type-only ones included; core/ free of frameworks and of every layer above it; plugins free of
 * protocols; the heavy libraries each behind their one place.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'An import cycle, type-only ones included: a type lives in the wrong module.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-core',
      severity: 'error',
      comment:
        'core/ is the domain: of this project it imports nothing but core/ and errors.ts (no adapter, plugin, protocol or runtime).',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/errors\\.ts$'] },
    },
    {
      name: 'core-free-of-frameworks',
      severity: 'error',
      comment:
        'core/ uses small pure libraries (zod, lru-cache, cephes, xxhash-wasm), never the server, runtime, store or telemetry ones.',
      from: { path: '^src/core/' },
      to: {
        path: 'node_modules/(fastify|@fastify|fastify-plugin|onnxruntime-node|onnxruntime-common|ioredis|prom-client|pino|piscina|opossum|@opentelemetry)/',
      },
    },
    // core/'s folders in layers, each importing only those below it: tensors < models (specs, model.json,
    // the router) < codec, cache < monitoring < serving (the data plane) < experiments, loading.
    {
      name: 'core-tensors-layer',
      severity: 'error',
      from: { path: '^src/core/tensors/' },
      to: { path: '^src/core/', pathNot: '^src/core/(tensors)/' },
    },
    {
      name: 'core-models-layer',
      severity: 'error',
      from: { path: '^src/core/models/' },
      to: { path: '^src/core/', pathNot: '^src/core/(models|tensors)/' },
    },
    {
      name: 'core-codec-layer',
      severity: 'error',
      from: { path: '^src/core/codec/' },
      to: { path: '^src/core/', pathNot: '^src/core/(codec|tensors|models)/' },
    },
    {
      name: 'core-cache-layer',
      severity: 'error',
      from: { path: '^src/core/cache/' },
      to: { path: '^src/core/', pathNot: '^src/core/(cache|tensors|models)/' },
    },
    {
      name: 'core-preprocess-layer',
      severity: 'error',
      from: { path: '^src/core/preprocess/' },
      to: { path: '^src/core/', pathNot: '^src/core/(preprocess|tensors|models)/' },
    },
    {
      name: 'core-monitoring-layer',
      severity: 'error',
      from: { path: '^src/core/monitoring/' },
      to: { path: '^src/core/', pathNot: '^src/core/(monitoring|tensors|models|codec|cache)/' },
    },
    {
      name: 'core-serving-layer',
      severity: 'error',
      from: { path: '^src/core/serving/' },
      to: {
        path: '^src/core/',
        pathNot: '^src/core/(serving|tensors|models|codec|cache|monitoring|preprocess|inference-log)/',
      },
    },
    {
      name: 'core-experiments-layer',
      severity: 'error',
      from: { path: '^src/core/experiments/' },
      to: {
        path: '^src/core/',
        pathNot: '^src/core/(experiments|tensors|models|codec|cache|monitoring|serving|preprocess)/',
      },
    },
    {
      name: 'core-loading-layer',
      severity: 'error',
      from: { path: '^src/core/loading/' },
      to: {
        path: '^src/core/',
        pathNot: '^src/core/(loading|tensors|models|codec|cache|monitoring|serving|preprocess)/',
      },
    },
    {
      name: 'plugins-not-protocols',
      severity: 'error',
      comment: 'Plugins own resources; protocols sit above them and register routes.',
      from: { path: '^src/plugins/' },
      to: { path: '^src/protocols/' },
    },
    {
      name: 'onnxruntime-in-runtime',
      severity: 'error',
      comment:
        'Only runtime/ talks to onnxruntime-node; piscina runs its workers and the decode workers (protocols/decoding/, the one place that decides where a body is decoded).',
      from: { pathNot: ['^src/runtime/', '^src/protocols/decoding/'] },
      to: { path: 'node_modules/(onnxruntime-node|onnxruntime-common|piscina)/' },
    },
    {
      name: 'ioredis-in-one-adapter',
      severity: 'error',
      comment: 'Redis is reached from two adapters: the cache, and the inference log stream (its own connection).',
      from: { pathNot: '^src/adapters/(redis-cache|inference-log/redis-stream-sink)\\.ts$' },
      to: { path: 'node_modules/ioredis/' },
    },
    {
      name: 'prom-client-in-metrics-adapters',
      severity: 'error',
      from: { pathNot: '^src/adapters/metrics/' },
      to: { path: 'node_modules/prom-client/' },
    },
    {
      name: 'sharp-in-one-adapter',
      severity: 'error',
      comment: 'Images are decoded in one place; core/preprocess/ sees only its ImageDecoder interface.',
      from: { pathNot: '^src/adapters/sharp-images\\.ts$' },
      to: { path: 'node_modules/sharp/' },
    },
    {
      name: 'tokenizers-in-one-adapter',
      severity: 'error',
      comment: 'Texts are tokenised in one place; core/preprocess/ sees only its TextTokenizer interface.',
      from: { pathNot: '^src/adapters/hf-tokenizers\\.ts$' },
      to: { path: 'node_modules/tokenizers/' },
    },
    {
      name: 'grpc-in-its-protocol',
      severity: 'error',
      comment: 'gRPC and protobuf live in protocols/grpc/ (the server) and client/grpc.ts (the client) only.',
      from: { pathNot: ['^src/protocols/grpc/', '^src/client/grpc\\.ts$'] },
      to: { path: 'node_modules/(@grpc|protobufjs|grpc-health-check)/' },
    },
    {
      name: 'nothing-imports-server',
      severity: 'error',
      comment: 'server.ts listens; nothing imports it (the CLI starts it by a dynamic import).',
      from: { pathNot: '^src/cli\\.ts$' },
      to: { path: '^src/server\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
