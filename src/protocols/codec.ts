import type { DeclaredRows } from '../core/serving/admission.js';
import type { DecodedInputs, InferTarget } from '../core/serving/data-plane.js';
import type { DecodeView } from '../core/serving/model-runner.js';
import type { ValidationLevel } from '../core/codec/input-checks.js';
import type { Locator } from '../core/tensors/paths.js';

/**
 * What a route passes its protocol's decoder besides the body: plain data, so that a decode worker
 * is given the same.
 */
export interface RequestHead {
  /** The URL's model and version (OIP), unchecked. */
  params: { model?: string; version?: string };
  /** The query string (/predict's binary bodies). */
  query: unknown;
  /** The body is a raw tensor, not JSON (/predict with application/octet-stream). */
  binary: boolean;
  /** The body's Content-Type, where the route takes more than JSON (an image's). */
  media?: string;
  /** A multipart/form-data body, read by the route (/predict's uploads). */
  form?: RequestForm;
  /** OIP's Inference-Header-Content-Length. */
  headerLength?: string | string[];
  /** The X-Routing-Key header, as text, unchecked (routingKeyFor() checks it where it counts). */
  routingHeader?: string;
}

/** A multipart/form-data body, read: its short fields by name, and its files in order. */
export interface RequestForm {
  fields: Record<string, string>;
  files: { field: string; bytes: Buffer }[];
}

/** What a request's envelope says about how to serve it, besides its inputs. */
export interface ServeOptions {
  validation?: ValidationLevel;
  timeoutMs?: number;
}

/**
 * A request parsed: the envelope (small and plain: what the answer is encoded from, and what a
 * decode worker sends back) and the data its inputs are decoded from (left on the worker).
 */
export interface ParsedRequest<E, D> {
  envelope: E;
  data: D;
}

/** Decoded inputs that can cross threads: the locator is rebuilt by the codec's locate(). */
export type PortableInputs = Omit<DecodedInputs, 'locator'> & { layout?: unknown };

/**
 * A protocol's decoder: worker-safe (no fastify, no runtime), so that a body is decoded by the same
 * code inline or on a decode worker (protocols/decoding/). Its encoder is the protocol's own,
 * from the data plane's InferResult and the envelope.
 */
export interface ProtocolCodec<E, D> {
  /** How a decode worker names it (protocols/decoding/codecs.ts). */
  readonly name: string;
  /** Whether a large body of this request is worth parsing off the event loop (JSON is; a raw tensor is a view). */
  offloads(head: RequestHead): boolean;
  /** Bytes to envelope and data; 400 for a body or envelope that is wrong whatever the model. */
  parse(body: Buffer | undefined, head: RequestHead, maxDepth: number): ParsedRequest<E, D>;
  /** The model version asked for, and the routing key the request itself names (none: the header's). */
  target(envelope: E, head: RequestHead): Omit<InferTarget, 'routingKey' | 'variant'> & { routingKey?: string };
  options(envelope: E): ServeOptions;
  /** The rows the envelope declares along the model's batch dim, held to the row caps before decode(). */
  declared(envelope: E, model: DecodeView): DeclaredRows;
  /** The inputs, for this model version. */
  decode(envelope: E, data: D, model: DecodeView): DecodedInputs & { layout?: unknown };
  /** The locator of inputs decoded on a worker, from what they carried back (`layout`). */
  locate(envelope: E, inputs: PortableInputs, model: DecodeView): Locator | undefined;
  /** The envelope as a decode worker sends it back (without data the answer never needs); as it is by default. */
  portable?(envelope: E): E;
}
