import fastJson from 'fast-json-stringify';
import type { FastifySchemaCompiler, FastifySerializerCompiler, FastifyTypeProvider } from 'fastify';
import { z } from 'zod';

/**
 * Route schemas are zod schemas (fastify-type-provider-zod's style) that *describe* each route for
 * /openapi.json. They do not validate: the handlers parse their envelopes with the same zod schemas
 * (protocols/envelope.ts), because /predict's body may be a raw tensor or a body parsed on a decode
 * worker, /v2's is JSON followed by binary data, and our 400s carry their own code and field paths.
 * Fastify then compiles no validator at all for these routes: the hot path pays nothing.
 */
export const describeOnlyValidator = (() => undefined) as unknown as FastifySchemaCompiler<unknown>;

/** Answers serialized by a compiled serializer (fast-json-stringify) instead of JSON.stringify. */
const compiled = new WeakSet<z.ZodType>();

/**
 * Marks a 2xx response schema to be compiled into the route's serializer: /predict's answer (about
 * half JSON.stringify's time).
 */
export function compiledAnswer<T extends z.ZodType>(schema: T): T {
  compiled.add(schema);
  return schema;
}

const stringify = (data: unknown) => JSON.stringify(data);

/** Every response schema but a compiled answer serializes as if the route had none: JSON.stringify. */
export const describeOnlySerializer: FastifySerializerCompiler<unknown> = ({ schema }) =>
  schema instanceof z.ZodType && compiled.has(schema)
    ? fastJson(z.toJSONSchema(schema, { target: 'draft-7' }) as Parameters<typeof fastJson>[0])
    : stringify;

/**
 * The routes' type provider: answers are typed from the response schemas, so the compiler checks
 * each handler's answer against its documentation; requests stay `unknown` (unlike
 * fastify-type-provider-zod's ZodTypeProvider), because nothing has validated them before the
 * handler parses them.
 */
export interface DescribedRoutes extends FastifyTypeProvider {
  validator: unknown;
  serializer: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
}
