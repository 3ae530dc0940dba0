import type { z } from 'zod';
import { formatPath } from '../core/tensors/paths.js';
import { ServiceError } from '../errors.js';

/** An envelope checked by its zod schema; the first problem leads the message, all are in details. */
export function parseEnvelope<T extends z.ZodType>(schema: T, value: unknown, root: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({
    path: formatPath([root, ...issue.path].filter((part) => part !== '')) || '(body)',
    message: issue.message,
  }));
  throw new ServiceError(
    'INVALID_REQUEST',
    `invalid request at ${details[0]!.path}: ${details[0]!.message}`,
    details.slice(0, 20),
  );
}
