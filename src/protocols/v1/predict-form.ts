import { Busboy, type BusboyHeaders } from '@fastify/busboy';
import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../../errors.js';
import type { RequestForm } from '../codec.js';

/** Files one multipart form may carry: one image per row. */
export const MAX_FORM_FILES = 64;
const MAX_FORM_FIELDS = 8;

/**
 * /predict's multipart/form-data bodies (`curl -F image=@cat.jpg -F model=digits`), read whole into
 * a RequestForm by busboy, fastify's streaming multipart parser, as a content-type parser: only such
 * requests pay for it. (@fastify/multipart, built on it, would add three hooks to every /predict
 * request.) Limits: up to MAX_FORM_FILES files of the body limit each, MAX_FORM_FIELDS short fields;
 * past one, a 413 or 400 that says which, never a half-read form.
 */
export function acceptForms(app: FastifyInstance, bodyLimit: number): void {
  app.addContentTypeParser('multipart/form-data', (request, payload, done) => {
    const form: RequestForm = { fields: {}, files: [] };
    let failed = false;
    const fail = (error: ServiceError) => {
      if (failed) return;
      failed = true;
      payload.unpipe(parser);
      payload.resume(); // read the rest, so the answer can be written on a healthy connection
      done(error, undefined);
    };
    let parser: InstanceType<typeof Busboy>;
    try {
      parser = new Busboy({
        headers: request.headers as BusboyHeaders,
        limits: {
          fileSize: bodyLimit,
          files: MAX_FORM_FILES,
          fields: MAX_FORM_FIELDS,
          fieldSize: 1024,
          parts: MAX_FORM_FILES + MAX_FORM_FIELDS,
        },
      });
    } catch (err) {
      return done(unreadable(err), undefined);
    }
    const reading: Promise<void>[] = [];
    parser.on('file', (field: string, stream: NodeJS.ReadableStream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err: unknown) => fail(unreadable(err))); // the form ended inside the file
      stream.on('limit', () =>
        fail(
          new ServiceError('PAYLOAD_TOO_LARGE', `a file of the form is over the body limit (${bodyLimit} bytes)`, [
            { path: `form.${field}`, message: `over BODY_LIMIT_BYTES (${bodyLimit})` },
          ]),
        ),
      );
      const file = { field, bytes: Buffer.alloc(0) };
      form.files.push(file); // in the order sent
      reading.push(
        new Promise((resolve) => stream.on('end', () => resolve(void (file.bytes = Buffer.concat(chunks))))),
      );
    });
    parser.on('field', (name: string, value: string) => (form.fields[name] = value));
    parser.on('filesLimit', () =>
      fail(
        new ServiceError(
          'TOO_MANY_ROWS',
          `the form has more than ${MAX_FORM_FILES} files; send the rest in another request`,
          [{ path: 'form.image', message: `at most ${MAX_FORM_FILES} images per form` }],
        ),
      ),
    );
    const tooManyFields = () =>
      fail(
        new ServiceError('INVALID_REQUEST', `the form has more than ${MAX_FORM_FIELDS} fields`, [
          { path: 'form', message: `at most ${MAX_FORM_FIELDS} fields besides the files` },
        ]),
      );
    parser.on('fieldsLimit', tooManyFields);
    parser.on('partsLimit', tooManyFields);
    parser.on('error', (err: unknown) => fail(unreadable(err)));
    parser.on('finish', () => {
      void Promise.all(reading).then(() => {
        if (!failed) done(null, form);
      });
    });
    payload.pipe(parser);
  });
}

function unreadable(err: unknown): ServiceError {
  return new ServiceError('INVALID_REQUEST', 'the multipart/form-data body cannot be read', [
    { path: 'form', message: String((err as Error)?.message ?? err).split('\n')[0]! },
  ]);
}

/** Whether a parsed body is a form this module read. */
export function isForm(body: unknown): body is RequestForm {
  return typeof body === 'object' && body !== null && !Buffer.isBuffer(body) && 'files' in body && 'fields' in body;
}
