import type { FastifyPluginAsync } from 'fastify';
import type { ModelEntry } from '../../core/models/model-registry.js';

function describe(entry: ModelEntry, placement: (key: string) => string) {
  const spec = entry.spec;
  return {
    version: entry.version,
    state: entry.state,
    ...(entry.reason ? { reason: entry.reason } : {}),
    ...(spec && {
      task: spec.task,
      runs_on: placement(spec.key),
      sha256: spec.sha256,
      inputs: spec.inputs,
      outputs: spec.outputs,
      features: spec.features,
      labels: spec.labels,
      validation: spec.validation,
      card: spec.config.card?.versions[entry.version],
    }),
  };
}

/** GET /models: every model with its versions, state, tensors, features and labels. */
const models: FastifyPluginAsync = async (app) => {
  app.get('/models', async () => {
    const names = [...new Set(app.models.all().map((e) => e.name))];
    return {
      models: names.map((name) => {
        const entries = app.models.entries(name);
        const config = entries.find((e) => e.spec)?.spec?.config;
        return {
          name,
          description: config?.description,
          dataset: config?.card?.dataset,
          versions: entries.map((entry) => describe(entry, app.placement)),
        };
      }),
    };
  });
};

export default models;
