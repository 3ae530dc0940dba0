import { Pod } from 'kubernetes-models/v1';
import { z } from 'zod';

/**
 * KServe publishes no @kubernetes-models package, so its two kinds are checked here against the
 * fields KServe's Go types declare (kserve/kserve pkg/apis/serving: v1alpha1 ServingRuntimeSpec,
 * v1beta1 InferenceServiceSpec), the subset a manifest of ours may use, strictly: a misspelt or
 * unknown field is an error, as kubectl --validate=strict would make it. The containers and volumes
 * are core/v1 ones and go through the Kubernetes schemas, inside a Pod.
 */

const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label');
const stringMap = z.record(z.string(), z.string());
const metadata = z.strictObject({
  name,
  namespace: name.optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
});
/** KServe's InferenceServiceProtocol values. */
const protocol = z.enum(['v1', 'v2', 'grpc-v1', 'grpc-v2']);

const servingRuntime = z.strictObject({
  apiVersion: z.literal('serving.kserve.io/v1alpha1'),
  kind: z.literal('ServingRuntime'),
  metadata,
  spec: z.strictObject({
    supportedModelFormats: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          version: z.string().optional(),
          autoSelect: z.boolean().optional(),
          priority: z.int().min(1).optional(),
        }),
      )
      .min(1),
    protocolVersions: z.array(protocol).min(1).optional(),
    multiModel: z.boolean().optional(),
    disabled: z.boolean().optional(),
    // ServingRuntimePodSpec, inline: no pod-level securityContext exists there.
    containers: z.array(z.looseObject({ name: z.string() })).min(1),
    volumes: z.array(z.looseObject({ name: z.string() })).optional(),
    nodeSelector: stringMap.optional(),
    affinity: z.looseObject({}).optional(),
    tolerations: z.array(z.looseObject({})).optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
    imagePullSecrets: z.array(z.strictObject({ name: z.string() })).optional(),
  }),
});

const inferenceService = z.strictObject({
  apiVersion: z.literal('serving.kserve.io/v1beta1'),
  kind: z.literal('InferenceService'),
  metadata,
  spec: z.strictObject({
    predictor: z.strictObject({
      model: z.strictObject({
        modelFormat: z.strictObject({ name: z.string().min(1), version: z.string().optional() }),
        runtime: name.optional(),
        protocolVersion: protocol.optional(),
        // The schemes KServe's storage initializer reads.
        storageUri: z
          .string()
          .regex(
            /^(s3|gs|pvc|hdfs|webhdfs|oci|hf|https?):\/\/./,
            'must be a URI KServe can fetch (s3://, gs://, pvc://, https://, …)',
          ),
        resources: z.looseObject({}).optional(),
        env: z.array(z.looseObject({ name: z.string() })).optional(),
        args: z.array(z.string()).optional(),
        // The container's ports: one, named h2c for gRPC, as KServe documents for its runtimes.
        ports: z
          .array(
            z.strictObject({
              name: z.enum(['h2c', 'http1']).optional(),
              containerPort: z.int().min(1).max(65535),
              protocol: z.literal('TCP').optional(),
            }),
          )
          .length(1)
          .optional(),
      }),
      minReplicas: z.int().min(0).optional(),
      maxReplicas: z.int().min(1).optional(),
      scaleTarget: z.int().min(1).optional(),
      scaleMetric: z.enum(['cpu', 'memory', 'concurrency', 'rps']).optional(),
      serviceAccountName: name.optional(),
    }),
  }),
});

const SCHEMAS: Record<string, z.ZodType> = {
  'serving.kserve.io/v1alpha1/ServingRuntime': servingRuntime,
  'serving.kserve.io/v1beta1/InferenceService': inferenceService,
};

export function isKServe(object: unknown): boolean {
  const { apiVersion, kind } = object as { apiVersion?: string; kind?: string };
  return `${apiVersion}/${kind}` in SCHEMAS;
}

/** undefined when the object holds, else one line per problem naming its field. */
export function kserveErrors(object: unknown): string | undefined {
  const { apiVersion, kind } = object as { apiVersion?: string; kind?: string };
  const schema = SCHEMAS[`${apiVersion}/${kind}`];
  if (!schema) return `not a KServe kind this check knows: ${apiVersion}/${kind}`;
  const result = schema.safeParse(object);
  const problems = result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const pod = runtimePod(object);
  if (pod) {
    try {
      new Pod(pod).validate();
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return problems.length > 0 ? problems.join('\n') : undefined;
}

/** A ServingRuntime's containers and volumes as the Pod KServe makes of them (for the core/v1 schemas). */
export function runtimePod(object: unknown): unknown {
  const { kind, spec } = object as { kind?: string; spec?: { containers?: unknown; volumes?: unknown } };
  if (kind !== 'ServingRuntime' || !spec) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'serving-runtime' },
    spec: { containers: spec.containers, volumes: spec.volumes },
  };
}
