import type { FastifyPluginAsync } from 'fastify';
import type { LoadedEntry } from '../../core/loading/model-registry.js';
import { shadowStatus, variantStatus } from '../../core/experiments/traffic-status.js';
import type { ModelTraffic } from '../../core/models/traffic-router.js';
import type { SkippedEntry } from '../../core/models/model-repository.js';
import type { DescribedRoutes } from '../openapi/describe-only.js';
import { modelsRouteSchema } from './route-schemas.js';
import type { ModelRunner } from '../../core/serving/model-runner.js';

function describe(entry: LoadedEntry, placement: (key: string) => string) {
  const runner = entry.runner;
  const spec = runner?.spec;
  return {
    version: entry.version,
    ...(entry.file ? { file: entry.file } : {}),
    state: entry.state,
    ...(entry.reason ? { reason: entry.reason } : {}),
    ...(entry.warmup ? { warmup: entry.warmup } : {}),
    ...(entry.reload
      ? { reload: { state: entry.reload.state, sha256: entry.reload.sha256, reason: entry.reload.reason } }
      : {}),
    ...(runner &&
      spec && {
        task: spec.task,
        runs_on: placement(spec.key),
        sha256: spec.sha256,
        inputs: spec.inputs,
        outputs: spec.outputs,
        features: spec.features,
        labels: spec.labels,
        validation: spec.validation,
        batching: {
          source: runner.batching.source,
          ...(runner.plan && {
            dim: runner.plan.dim,
            axes: { inputs: runner.plan.inputs, outputs: runner.plan.outputs },
            max_batch_size: runner.policy.maxBatchRows,
          }),
          reason: runner.batching.reason,
        },
        predict:
          Object.keys(runner.texts).length === 1
            ? 'texts'
            : 'refusal' in runner.rowInput
              ? `not by /predict: ${runner.rowInput.refusal}; use /v2/models/${spec.name}/infer`
              : 'rows',
        ...(spec.config.preprocess && { preprocess: resolvedPreprocess(runner) }),
        card: spec.config.card?.versions[entry.version],
      }),
  };
}

/** model.json `preprocess` as the version applies it: a text's max_length and the inputs it fills resolved. */
function resolvedPreprocess(runner: ModelRunner) {
  return Object.fromEntries(
    Object.entries(runner.spec.config.preprocess ?? {}).map(([name, entry]) => {
      const plan = runner.texts[name];
      if (!('text' in entry) || !plan) return [name, entry];
      const inputs = { ids: plan.ids.input, mask: plan.mask?.input, type_ids: plan.typeIds?.input };
      return [name, { text: { ...entry.text, max_length: plan.maxLength, inputs } }];
    }),
  );
}

/**
 * GET /models: every model with its versions, state, tensors, features and labels, its traffic
 * split (each variant's weight and whether its version is ready), and the repository entries
 * that are not served (`skipped`, per model and at the top), with why.
 */
const models: FastifyPluginAsync = async (app) => {
  app.withTypeProvider<DescribedRoutes>().get('/models', { schema: modelsRouteSchema }, async () => {
    const names = [...new Set(app.router.all().map((e) => e.name))];
    return {
      models: names.map((name) => {
        const entries = app.router.entries(name);
        const config = entries.find((e) => e.runner)?.runner?.spec.config;
        const traffic = app.router.traffic.get(name);
        return {
          name,
          description: config?.description,
          dataset: config?.card?.dataset,
          versions: entries.map((entry) => describe(entry, app.placement)),
          ...(traffic ? { traffic: trafficOf(traffic, entries, app.models.skippedEntries(name)) } : {}),
          skipped: app.models.skippedEntries(name),
        };
      }),
      skipped: app.models.skipped,
    };
  });
};

export default models;

/** A model's split on /models: its variants, and its shadows when it has any. */
function trafficOf(traffic: ModelTraffic, entries: readonly LoadedEntry[], skipped: readonly SkippedEntry[]) {
  const shadows = shadowStatus(traffic, entries, skipped);
  return { variants: variantStatus(traffic, entries, skipped), ...(shadows.length > 0 ? { shadows } : {}) };
}
