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
        'Only runtime/ talks to onnxruntime-node, and piscina runs its workers (and, for now, the decode workers: issue #20 moves them below the protocols).',
      from: { pathNot: ['^src/runtime/', '^src/protocols/offload/'] },
      to: { path: 'node_modules/(onnxruntime-node|onnxruntime-common|piscina)/' },
    },
    {
      name: 'ioredis-in-one-adapter',
      severity: 'error',
      from: { pathNot: '^src/adapters/redis-cache\\.ts$' },
      to: { path: 'node_modules/ioredis/' },
    },
    {
      name: 'prom-client-in-metrics-adapters',
      severity: 'error',
      from: { pathNot: '^src/adapters/metrics/' },
      to: { path: 'node_modules/prom-client/' },
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
