import { z } from 'zod';
import type { ErrorCode } from '../../errors.js';
import { ANY_REQUEST, errorResponses, PATH_PARAMS, READS_BODY } from '../openapi/error-responses.js';

/**
 * The model repository extension of the Open Inference Protocol (Triton's
 * `extension_model_repository`), as this server answers it.
 */
const tags = ['Model repository (control API)'];
/** Every control API route: refused without the token, or with a wrong one. */
export const ADMIN = ['UNAUTHORIZED', 'FORBIDDEN'] as const satisfies ErrorCode[];
/** A rescan: refused while the models first load, or when MODEL_DIR cannot be read. */
const RESCANS = ['MODEL_NOT_READY', 'REPOSITORY_UNAVAILABLE'] as const satisfies ErrorCode[];
export const auth =
  'Only when ADMIN_TOKEN is set (otherwise 404 ROUTE_NOT_FOUND, as any unknown route); needs `Authorization: Bearer <ADMIN_TOKEN>`.';
export const modelParams = z.object({ model: z.string().describe("the model's name in the repository (its folder)") });

export const indexRequestSchema = z.object({
  ready: z.boolean().optional().describe('true: only the versions ready for inference'),
  repository_name: z.string().optional().describe('ignored: there is one repository'),
});

export const indexEntrySchema = z.object({
  name: z.string(),
  version: z.string(),
  state: z.enum(['READY', 'LOADING', 'UNAVAILABLE']),
  reason: z
    .string()
    .describe(
      'why it is not READY (failed to load, unloaded); for a READY version, a changed file that failed to load, or empty',
    ),
});
export type IndexEntry = z.infer<typeof indexEntrySchema>;

export const repositoryIndexRoute = {
  tags,
  summary: 'Repository index: rescans MODEL_DIR, then lists every model version with its state',
  description: auth,
  body: { content: { 'application/json': { schema: indexRequestSchema } } },
  response: { 200: z.array(indexEntrySchema), ...errorResponses(ANY_REQUEST, READS_BODY, ADMIN, RESCANS) },
};

export const repositoryLoadRoute = {
  tags,
  summary: 'Load a model: rescans MODEL_DIR and answers once its versions are ready (or why they are not)',
  description: `${auth} Also loads a model unloaded earlier. The body is ignored.`,
  params: modelParams,
  response: {
    200: z.object({}),
    ...errorResponses(ANY_REQUEST, PATH_PARAMS, READS_BODY, ADMIN, RESCANS, [
      'MODEL_NOT_FOUND',
      'MODEL_FAILED',
      'UNSUPPORTED_MODEL',
    ]),
  },
};

export const repositoryUnloadRoute = {
  tags,
  summary:
    'Unload a model: no new requests now, answered once its in-flight requests finish and it is released; rescans leave it out until it is loaded',
  description: `${auth} The body is ignored.`,
  params: modelParams,
  response: {
    200: z.object({}),
    ...errorResponses(ANY_REQUEST, PATH_PARAMS, READS_BODY, ADMIN, ['MODEL_NOT_READY', 'MODEL_NOT_FOUND']),
  },
};
