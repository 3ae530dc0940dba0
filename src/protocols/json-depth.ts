import { ServiceError } from '../errors.js';

/**
 * Refuses a parsed JSON body nested deeper than `maxDepth` containers (`{}` is depth 1,
 * `{"a":[1]}` depth 2). JSON.parse itself is iterative, but any recursive walk after it (zod's
 * intersections, a logger, a serializer) can overflow the stack on a body 10,000 deep, and where
 * that happens depends on the Node version's stack size. Checked once, right after parsing, level
 * by level without recursion; a body of numbers costs one typeof per value.
 */
export function checkJsonDepth(value: unknown, maxDepth: number): void {
  let level: object[] = typeof value === 'object' && value !== null ? [value] : [];
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > maxDepth) {
      throw new ServiceError('INVALID_REQUEST', `the body is nested deeper than ${maxDepth} levels (MAX_JSON_DEPTH)`, [
        { path: '(body)', message: `nested deeper than ${maxDepth} levels` },
      ]);
    }
    const next: object[] = [];
    for (const container of level) {
      const values = Array.isArray(container) ? container : Object.values(container);
      for (let i = 0; i < values.length; i++) {
        const v: unknown = values[i];
        if (typeof v === 'object' && v !== null) next.push(v);
      }
    }
    level = next;
  }
}
