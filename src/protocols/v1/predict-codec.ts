import type { RowKind } from '../../core/codec/rows-codec.js';
import type { DecodeView } from '../../core/serving/model-runner.js';
import { tensorFromBytes } from '../../core/tensors/binary.js';
import { isDType } from '../../core/tensors/dtypes.js';
import { formatPath, unravel, type Locator } from '../../core/tensors/paths.js';
import { invalidAt } from '../../core/tensors/tensor-errors.js';
import { ServiceError } from '../../errors.js';
import type { ProtocolCodec } from '../codec.js';
import { parseEnvelope } from '../envelope.js';
import { parseJson } from '../json-body.js';
import { placesFor, PREDICT_ROWS } from '../packed-json.js';
import { imageQuerySchema, predictRequestSchema, tensorQuerySchema, type PredictRequest } from './predict-request.js';
import { base64Item } from '../base64-items.js';
import type { RawInputs } from '../../core/preprocess/raw-inputs.js';
import { refuseReplaced, textFromBytes, textItem } from '../../core/preprocess/raw-texts.js';
import { FEATURES, INSTANCES } from './rows-places.js';

/** Binary input names positions as tensor[row][...] and the tensor as a whole by its shape. */
const binaryLocator: Locator = {
  element: (_input, flat, shape) => formatPath(['tensor', ...unravel(flat, shape)]),
  tensor: () => 'shape',
};

type Common = Pick<PredictRequest, 'model' | 'validation' | 'timeout_ms' | 'routing_key'>;

/**
 * A /predict request without its rows: JSON (`single` for one `features` object) or a raw tensor
 * described by the query string. `rows`: how many it sends, held to the row caps before decoding.
 */
export type PredictEnvelope = Common &
  (
    | { binary: false; version?: string | number; single: boolean; rows: number; imageBody?: false }
    | { binary: false; version?: string; single: boolean; rows: number; imageBody: true; form?: boolean }
    | { binary: true; version?: string; dtype: string; shape: number[]; single: false; rows: number }
    | { binary: false; version?: string | number; single: boolean; rows: number; text: 'json' | 'body' | 'form' }
  );

/** A body that is one text (`?model=` names the model); UTF-8, whatever charset it claims. */
export const TEXT_MEDIA = /^\s*text\/plain\s*(;|$)/i;

/** Content types of a body that is one encoded image (`?model=` names the model). */
export const IMAGE_MEDIA = /^\s*image\/(jpeg|png|webp|gif)\s*(;|$)/i;

/** A row that is an image: `{"image": "<base64>"}`. */
function isImageRow(row: unknown): row is { image: unknown } {
  // `in` first: rows of values (every /predict request scans them) are turned away without allocating
  return typeof row === 'object' && row !== null && 'image' in row && Object.keys(row).length === 1;
}

/** Where /predict's images are named in errors: `image`, `instances[2].image`, or the body. */
function imagePlace(envelope: Exclude<PredictEnvelope, { binary: true } | { text: string }>) {
  if (envelope.imageBody && envelope.form)
    return envelope.single
      ? { row: () => 'form.image', whole: 'form.image' }
      : { row: (i: number) => `form.image[${i}]`, whole: 'form.image' };
  if (envelope.imageBody) return { row: () => 'body', whole: 'body' };
  return envelope.single
    ? { row: () => 'image', whole: 'image' }
    : { row: (i: number) => formatPath(['instances', i, 'image']), whole: 'instances' };
}

/** Where /predict's texts are named in errors: `text`, `texts[2]`, the body or the form's field. */
function textPlace(envelope: { single: boolean; text: 'json' | 'body' | 'form' }) {
  if (envelope.text === 'body') return { row: () => 'body', whole: 'body' };
  if (envelope.text === 'form') return { row: () => 'form.text', whole: 'form.text' };
  return envelope.single
    ? { row: () => 'text', whole: 'text' }
    : { row: (i: number) => formatPath(['texts', i]), whole: 'texts' };
}

type RawEnvelope = Exclude<PredictEnvelope, { binary: true }>;

/** Where the rows a request sends as images or texts are named. */
function rawPlace(envelope: RawEnvelope) {
  return 'text' in envelope ? textPlace(envelope) : imagePlace(envelope);
}

/** The texts a request sends, for the one text the model's model.json preprocesses. */
function rawTexts(envelope: Extract<PredictEnvelope, { text: string }>, texts: string[], model: DecodeView): RawInputs {
  const place = textPlace(envelope);
  const names = Object.keys(model.texts);
  const { name, key } = model.spec;
  if (names.length !== 1)
    throw invalidAt(
      place.whole,
      names.length === 0
        ? `model ${name} takes no text: its model.json names no tokenizer (preprocess.<name>.text)`
        : `model ${key} takes several texts (${names.join(', ')}); send each as a BYTES input to POST /v2/models/${name}/infer`,
    );
  return { [names[0]!]: { texts, paths: texts.map((_, i) => place.row(i)) } };
}

/** Names a preprocessed tensor's positions by the image or text each row came from. */
function rawLocator(envelope: RawEnvelope): Locator {
  const place = rawPlace(envelope);
  return {
    element: (_input, flat, shape) => place.row(Math.floor(flat / shape.slice(1).reduce((a, b) => a * b, 1))),
    tensor: () => place.whole,
  };
}

/** The images a request sends for the model's row input, or undefined when it sends rows of values. */
function rawImages(
  envelope: Exclude<PredictEnvelope, { binary: true } | { text: string }>,
  data: PredictData,
  model: DecodeView,
  input: string,
): RawInputs | undefined {
  const place = imagePlace(envelope);
  const items = envelope.imageBody
    ? Array.isArray(data)
      ? (data as Buffer[])
      : [data]
    : (data as unknown[]).some(isImageRow)
      ? (data as unknown[]).map((row, i) => {
          if (!isImageRow(row))
            throw invalidAt(formatPath(['instances', i]), 'send every row as {"image": "<base64>"}, or none');
          return base64Item(row.image, place.row(i));
        })
      : undefined;
  if (!items) return undefined;
  if (!model.images[input]) {
    const { name } = model.spec;
    throw invalidAt(
      place.row(0),
      `model ${name} takes no images: its input "${input}" has no image preprocessing in model.json`,
    );
  }
  return { [input]: { items, paths: items.map((_, i) => place.row(i)) } };
}

/** The rows of a JSON body, the bytes of a binary one or of an image, a form's image files, or texts. */
export type PredictData = unknown[] | Buffer | Buffer[] | string[];

/** /predict feeds one input with rows; other models are served over the Open Inference Protocol. */
function rowsInput(model: DecodeView) {
  if ('refusal' in model.rowInput) {
    const { name } = model.spec;
    throw new ServiceError(
      'UNSUPPORTED_MODEL',
      `model ${model.spec.key} cannot be fed rows by /predict: ${model.rowInput.refusal}; call POST /v2/models/${name}/infer`,
      [{ path: 'model', message: `use POST /v2/models/${name}/infer (Open Inference Protocol)` }],
    );
  }
  return model.rowInput;
}

/** The outputs /predict answers with: the task's output, or every tensor output of a raw model. */
function outputsOf(model: DecodeView): string[] | undefined {
  return model.spec.taskOutput ? [model.spec.taskOutput] : undefined;
}

/**
 * POST /predict's decoder. JSON: one `features` object or an `instances` list of rows, decoded by
 * the model's rows codec. application/octet-stream: the body is a raw little-endian tensor, described
 * by the query string (?model=digits&dtype=float32&shape=4,1,8,8).
 */
export const predictCodec: ProtocolCodec<PredictEnvelope, PredictData> = {
  name: 'predict',
  offloads: (head) => !head.binary, // an image or a form is not JSON either: `binary` is set for both

  parse(body, head, maxDepth) {
    if (head.form && head.form.fields.text !== undefined) {
      const { text, ...fields } = head.form.fields;
      const query = parseEnvelope(imageQuerySchema, fields, 'form');
      const stray = head.form.files[0];
      if (stray) throw invalidAt(`form.${stray.field}`, 'send a text or image files, not both');
      return { envelope: { ...query, binary: false, single: true, rows: 1, text: 'form' }, data: [text] };
    }
    if (head.form) {
      const { fields, files } = head.form;
      const query = parseEnvelope(imageQuerySchema, fields, 'form');
      const stray = files.find((f) => f.field !== 'image');
      if (stray) throw invalidAt(`form.${stray.field}`, 'send each image as a file named "image" (-F image=@cat.jpg)');
      if (files.length === 0) throw invalidAt('form.image', 'no file: send each image as -F image=@<file>');
      const rows = files.length;
      const envelope = {
        ...query,
        binary: false as const,
        imageBody: true as const,
        form: true,
        single: rows === 1,
        rows,
      };
      return { envelope, data: files.map((f) => f.bytes) };
    }
    if (head.media && IMAGE_MEDIA.test(head.media)) {
      const query = parseEnvelope(imageQuerySchema, head.query, 'query');
      const envelope = {
        ...query,
        binary: false as const,
        imageBody: true as const,
        single: true as const,
        rows: 1 as const,
      };
      return { envelope, data: body ?? Buffer.alloc(0) };
    }
    if (head.media && TEXT_MEDIA.test(head.media)) {
      const query = parseEnvelope(imageQuerySchema, head.query, 'query');
      const text = textFromBytes(body ?? Buffer.alloc(0), 'body');
      return { envelope: { ...query, binary: false, single: true, rows: 1, text: 'body' }, data: [text] };
    }
    if (head.binary) {
      const query = parseEnvelope(tensorQuerySchema, head.query, 'query');
      const envelope = { ...query, binary: true as const, single: false as const, rows: query.shape[0]! };
      return { envelope, data: body ?? Buffer.alloc(0) };
    }
    const request = parseEnvelope(
      predictRequestSchema,
      body && parseJson(body, maxDepth, 'the body', placesFor(body, PREDICT_ROWS)),
      '',
    );
    const { features, instances, image, text, texts, ...rest } = request;
    if (text !== undefined || texts !== undefined) {
      const envelope = { ...rest, binary: false as const, single: text !== undefined, rows: 0, text: 'json' as const };
      const list = text !== undefined ? [text] : texts!;
      const place = textPlace(envelope);
      list.forEach((t, i) => refuseReplaced(textItem(t, place.row(i)), body, place.row(i)));
      return { envelope: { ...envelope, rows: list.length }, data: list };
    }
    const single = features !== undefined || image !== undefined;
    const rows = image !== undefined ? [{ image }] : single ? [features] : instances!;
    return { envelope: { ...rest, binary: false, single, rows: rows.length }, data: rows };
  },

  target: (envelope) => ({
    model: envelope.model,
    version: envelope.version?.toString(),
    routingKey: envelope.routing_key,
  }),

  options: (envelope) => ({ validation: envelope.validation, timeoutMs: envelope.timeout_ms }),

  declared: (envelope) => ({
    rows: envelope.rows,
    path: envelope.binary
      ? binaryLocator.tensor('')
      : 'text' in envelope
        ? textPlace(envelope).whole
        : envelope.imageBody
          ? imagePlace(envelope).whole
          : INSTANCES.whole,
  }),

  decode(envelope, data, model) {
    if ('text' in envelope)
      return {
        tensors: {},
        raw: rawTexts(envelope, data as string[], model),
        outputs: outputsOf(model),
        locator: rawLocator(envelope),
      };
    const { input, codec } = rowsInput(model);
    if (!envelope.binary) {
      const raw = rawImages(envelope, data, model, input);
      if (raw) return { tensors: {}, raw, outputs: outputsOf(model), locator: rawLocator(envelope) };
    } else {
      const dtype = model.spec.inputs[0]!.dtype;
      if (!isDType(envelope.dtype)) throw invalidAt('dtype', `unknown dtype "${envelope.dtype}"`);
      if (envelope.dtype !== dtype)
        throw invalidAt('dtype', `the model input is ${dtype}, the body says ${envelope.dtype}`);
      return {
        tensors: { [input]: tensorFromBytes(data as Buffer, dtype, envelope.shape, 'body') },
        outputs: outputsOf(model),
        locator: binaryLocator,
      };
    }
    const level = envelope.validation ?? model.spec.validation;
    const decoded = codec.decode(data as unknown[], envelope.single ? FEATURES : INSTANCES, level);
    return {
      tensors: { [input]: decoded.tensor },
      outputs: outputsOf(model),
      warnings: decoded.warnings,
      locator: decoded.locator,
      layout: decoded.kinds,
    };
  },

  locate(envelope, inputs, model) {
    if (envelope.binary) return binaryLocator;
    if (inputs.raw) return rawLocator(envelope);
    const { input, codec } = rowsInput(model);
    const shape = inputs.tensors[input]!.shape.slice(1);
    return codec.locatorOf(envelope.single ? FEATURES : INSTANCES, inputs.layout as RowKind[], shape);
  },
};
