import type { DecodedInputs } from '../../core/serving/data-plane.js';
import type { TensorSpec } from '../../core/models/model-spec.js';
import { bytesItems, tensorFromBytes } from '../../core/tensors/binary.js';
import type { ImagePlan } from '../../core/preprocess/image-plan.js';
import type { TextPlan } from '../../core/preprocess/text-plan.js';
import { refuseReplaced, textFromBytes, textItem } from '../../core/preprocess/raw-texts.js';
import type { RawInputs } from '../../core/preprocess/raw-inputs.js';
import { base64Item } from '../base64-items.js';
import { tensorFromJson } from '../../core/tensors/json-data.js';
import { formatPath, unravel, type Locator } from '../../core/tensors/paths.js';
import type { NamedTensors } from '../../core/tensors/tensor.js';
import { invalidAt } from '../../core/tensors/tensor-errors.js';
import { ServiceError } from '../../errors.js';
import { parseEnvelope } from '../envelope.js';
import { parseJson } from '../json-body.js';
import { JsonNumbers } from '../../core/tensors/json-numbers.js';
import { OIP_TENSORS, placesFor } from '../packed-json.js';
import { dtypeOf, OIP_DATATYPE } from './datatypes.js';
import { inferRequestSchema, type InferRequest } from './infer-request.js';

/** An infer body split into its JSON header and the binary tensor data that follows it. */
export interface InferBody {
  request: InferRequest;
  binary: Buffer;
  /** The whole body's size: no tensor may claim more elements than it could carry. */
  bytes: number;
  /** The JSON bytes, a view: checked for UTF-8 only when a text holds U+FFFD (what a bad byte reads as). */
  header?: Uint8Array;
}

/**
 * The body of POST .../infer. Without Inference-Header-Content-Length it is all JSON; with it, the
 * first that many bytes are the JSON header and the rest the inputs' binary data (binary tensor
 * data extension). The format never depends on Content-Type: Triton's own client sends none.
 * A header nested deeper than maxDepth is refused.
 */
export function parseInferBody(body: Buffer, headerLength: string | string[] | undefined, maxDepth: number): InferBody {
  let jsonBytes = body.length;
  if (headerLength !== undefined) {
    const value = Array.isArray(headerLength) ? headerLength[0] : headerLength;
    jsonBytes = /^\d{1,10}$/.test(value ?? '') ? Number(value) : Number.NaN;
    if (!(jsonBytes <= body.length)) {
      throw new ServiceError(
        'INVALID_REQUEST',
        `Inference-Header-Content-Length is ${value}; the body has ${body.length} bytes`,
        [
          {
            path: 'Inference-Header-Content-Length',
            message: 'the byte length of the JSON header at the start of the body',
          },
        ],
      );
    }
  }
  const header = body.subarray(0, jsonBytes);
  const what = headerLength === undefined ? 'the body' : 'the inference header';
  const json = parseJson(header, maxDepth, what, placesFor(header, OIP_TENSORS));
  const request = parseEnvelope(inferRequestSchema, json, '');
  return { request, binary: body.subarray(jsonBytes), bytes: body.length, header: body.subarray(0, jsonBytes) };
}

/** OIP names an input by its name: inputs.state, inputs.state[1][0][6]. */
export const oipLocator: Locator = {
  element: (input, flat, shape) => formatPath(['inputs', input, ...unravel(flat, shape)]),
  tensor: (input) => formatPath(['inputs', input]),
};

/**
 * The request's inputs by name with the shapes they declare, read before their data is: what the
 * row caps are checked on.
 */
export function inputsByName(request: InferRequest): Record<string, InferRequest['inputs'][number]> {
  return Object.fromEntries(request.inputs.map((input) => [input.name, input]));
}

/**
 * The request's tensors, each from its JSON data or its slice of the binary data, checked against
 * the declared datatype.
 */
export function decodeInputs(
  body: InferBody,
  inputs: readonly TensorSpec[],
  images: Readonly<Record<string, ImagePlan>> = {},
  texts: Readonly<Record<string, TextPlan>> = {},
): DecodedInputs {
  const { request, binary } = body;
  const tensors: NamedTensors = {};
  let raw: RawInputs | undefined; // made only for a request that sends images
  let offset = 0;
  for (const input of request.inputs) {
    const where = oipLocator.tensor(input.name);
    if (Object.hasOwn(tensors, input.name) || (raw && Object.hasOwn(raw, input.name)))
      throw invalidAt(where, `input "${input.name}" is sent twice`);
    const dtype = dtypeOf(input.datatype);
    if (!dtype)
      throw invalidAt(
        `${where}.datatype`,
        `unknown datatype "${input.datatype}"; one of ${Object.values(OIP_DATATYPE).join(', ')}`,
      );
    const expected = inputs.find((i) => i.name === input.name);
    // An encoded image per row, for an input model.json preprocesses (KServe's and Triton's convention)
    const encoded = dtype === 'string' && expected?.dtype !== 'string' && images[input.name] !== undefined;
    // UTF-8 texts a tokenizer turns into the token inputs (model.json preprocess.<name>.text)
    const text = dtype === 'string' && !expected && texts[input.name] !== undefined;
    if (expected && expected.dtype !== dtype && !encoded) {
      throw invalidAt(
        `${where}.datatype`,
        `the model input "${input.name}" is ${OIP_DATATYPE[expected.dtype]}, the request says ${input.datatype}`,
      );
    }
    const size = input.parameters?.binary_data_size;
    if (size !== undefined) {
      if (input.data !== undefined)
        throw invalidAt(`${where}.data`, 'send data or parameters.binary_data_size, not both');
      if (offset + size > binary.length)
        throw invalidAt(
          `${where}.parameters.binary_data_size`,
          `${size} bytes from byte ${offset} of the binary data, which holds ${binary.length}`,
        );
      const bytes = binary.subarray(offset, offset + size);
      if (text)
        (raw ??= {})[input.name] = textItems(input.shape, where, (count) =>
          bytesItems(bytes, count, where).map((item, i) => textFromBytes(item, `${where}[${i}]`)),
        );
      else if (encoded)
        (raw ??= {})[input.name] = encodedItems(input.shape, where, (count) => bytesItems(bytes, count, where));
      else tensors[input.name] = tensorFromBytes(bytes, dtype, input.shape, where);
      offset += size;
    } else {
      if (input.data === undefined)
        throw invalidAt(`${where}.data`, 'missing: send data, or the bytes with parameters.binary_data_size');
      // Numbers sent for texts or images: refused in the words of the JSON arrays they stand for
      const data = input.data instanceof JsonNumbers && (text || encoded) ? input.data.materialize() : input.data;
      if (text)
        (raw ??= {})[input.name] = textItems(input.shape, where, (count) => {
          if (!Array.isArray(data) || data.length !== count)
            throw invalidAt(`${where}.data`, `expected a flat list of ${count} texts`);
          return data.map((item, i) => refuseReplaced(textItem(item, `${where}[${i}]`), body.header, `${where}[${i}]`));
        });
      else if (encoded)
        (raw ??= {})[input.name] = encodedItems(input.shape, where, (count) => {
          if (!Array.isArray(data) || data.length !== count)
            throw invalidAt(`${where}.data`, `expected a flat list of ${count} base64 images`);
          return data.map((item, i) => base64Item(item, formatPath(['inputs', input.name, i])));
        });
      else tensors[input.name] = tensorFromJson(input.data, dtype, input.shape, where, body.bytes);
    }
  }
  if (offset !== binary.length) {
    throw new ServiceError(
      'INVALID_REQUEST',
      `${binary.length} bytes follow the JSON header, but the inputs' binary_data_size add up to ${offset}`,
      [
        {
          path: 'Inference-Header-Content-Length',
          message: 'the byte length of the JSON header at the start of the body',
        },
      ],
    );
  }
  const outputs = request.outputs?.map((o) => o.name);
  if (outputs && new Set(outputs).size !== outputs.length)
    throw new ServiceError('INVALID_REQUEST', 'an output is requested twice', [
      { path: 'outputs', message: outputs.join(', ') },
    ]);
  return { tensors, outputs, locator: oipLocator, ...(raw && { raw }) };
}

/** A BYTES input of texts: shape [N], one text per row, each named inputs.<name>[i]. */
function textItems(shape: number[], where: string, read: (count: number) => string[]) {
  if (shape.length !== 1)
    throw invalidAt(`${where}.shape`, `texts travel as BYTES of shape [N], one per row; got [${shape.join(',')}]`);
  const texts = read(shape[0]!);
  return { texts, paths: texts.map((_, i) => `${where}[${i}]`) };
}

/** A BYTES input of encoded images: shape [N], one image per row, each named inputs.<name>[i]. */
function encodedItems(shape: number[], where: string, read: (count: number) => Uint8Array[]) {
  if (shape.length !== 1)
    throw invalidAt(`${where}.shape`, `images travel as BYTES of shape [N], one per row; got [${shape.join(',')}]`);
  const items = read(shape[0]!);
  return { items, paths: items.map((_, i) => `${where}[${i}]`) };
}
