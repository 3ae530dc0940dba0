import { z } from 'zod';

const parameters = z.record(z.string(), z.unknown());

/** Shapes are bounded in rank; sizes are checked against the data and the model later. */
const shape = z
  .array(
    z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1),
  )
  .max(32);

export const requestInputSchema = z.object({
  name: z.string().min(1).max(256),
  shape,
  datatype: z.string().min(1).max(16),
  parameters: z
    .object({
      /** Binary tensor data extension: the tensor's bytes follow the JSON header. */
      binary_data_size: z.number().int().min(0).optional(),
    })
    .catchall(z.unknown())
    .optional(),
  data: z
    .unknown()
    .optional()
    .describe('the values, flat or nested, row-major; absent when parameters.binary_data_size is given'),
});

export const requestOutputSchema = z.object({
  name: z.string().min(1).max(256),
  parameters: z
    .object({
      /** Binary tensor data extension: answer this output as bytes after the JSON header. */
      binary_data: z.boolean().optional(),
      /** Classification extension: the top K classes as "value:index[:label]". */
      classification: z.number().int().min(1).max(65_536).optional(),
    })
    .catchall(z.unknown())
    .optional(),
});

/**
 * The inference request object of the Open Inference Protocol (KServe v2, Triton), JSON part.
 * Unknown top-level fields are ignored, as other servers do, so clients that add their own still work.
 */
export const inferRequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: parameters
    .and(
      z.object({
        /** Binary tensor data extension: every output as bytes. */
        binary_data_output: z.boolean().optional(),
        /** Triton's request timeout, in microseconds. */
        timeout: z.number().int().min(1).max(600_000_000).optional(),
        validation: z.enum(['strict', 'permissive']).optional(),
        /** Keeps a caller on one variant of the model's traffic split (as the X-Routing-Key header does). */
        routing_key: z.string().max(256).optional(),
      }),
    )
    .optional(),
  inputs: z.array(requestInputSchema).min(1).max(256),
  outputs: z.array(requestOutputSchema).max(256).optional(),
});

export type InferRequest = z.infer<typeof inferRequestSchema>;
export type RequestOutput = z.infer<typeof requestOutputSchema>;
