import http from 'node:http';
import https from 'node:https';
import { CloudEvent, HTTP } from 'cloudevents';
import type { LogSink } from '../../core/inference-log/inference-log.js';

/** KServe's logger's event types, and ours for feedback. */
const EVENT_TYPES: Record<string, string> = {
  request: 'org.kubeflow.serving.inference.request',
  response: 'org.kubeflow.serving.inference.response',
  feedback: 'org.kubeflow.serving.inference.feedback',
};

/** The head every record line starts with (log-records.ts writes it first, in this order). */
const HEAD = /^\{"type":"(\w+)","id":"([^"\\]*)","time":"([^"]*)","model":("(?:[^"\\]|\\.)*"),"version":"([^"\\]*)"/;

/** The head's fields: type, id, time, model (JSON text), version. */
function headOf(line: string): RegExpExecArray {
  const head = HEAD.exec(line);
  if (!head) throw new Error('not an inference log record');
  return head;
}

function typeOf(recordType: string): string {
  return EVENT_TYPES[recordType] ?? `org.kubeflow.serving.inference.${recordType}`;
}

/** Events in flight at once while a batch is sent one event a POST: the agent's connections. */
const CONCURRENCY = 8;

/**
 * binary: one POST per event, `ce-*` headers and the record as the body, as KServe's logger
 * sends them and as a Knative broker takes them. batch: one POST per batch of records, a JSON
 * array of structured events (`application/cloudevents-batch+json`), for a collector that reads
 * batches (Vector, Fluent Bit, a function of yours): a tenth of the CPU per event.
 */
export type CloudEventsMode = 'binary' | 'batch';

/**
 * Records POSTed as CloudEvents: `ce-id` the prediction id, `ce-type`
 * org.kubeflow.serving.inference.request / .response (our .feedback), source, time,
 * `inferenceservicename` (the model), `modelversion`, and the record as the JSON data. Built with
 * the cloudevents SDK (unvalidated: the log makes every attribute), sent over keep-alive
 * connections. A batch that fails (an answer other than 2xx, no answer within timeoutMs) is retried
 * whole: delivery is at least once, and an event's id lets the receiver drop a duplicate.
 */
export class CloudEventsSink implements LogSink {
  readonly name = 'cloudevents';
  private readonly client: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly sourceJson: string;

  constructor(
    private readonly url: string,
    private readonly source: string,
    private readonly timeoutMs: number,
    private readonly mode: CloudEventsMode = 'binary',
  ) {
    this.client = url.startsWith('https:') ? https : http;
    this.agent = new this.client.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    this.sourceJson = JSON.stringify(source);
  }

  async write(lines: string[]): Promise<void> {
    if (this.mode === 'batch') {
      const events = lines.map((line) => this.structured(line));
      await this.post({ 'content-type': 'application/cloudevents-batch+json' }, `[${events.join(',')}]`);
      return;
    }
    for (let i = 0; i < lines.length; i += CONCURRENCY)
      await Promise.all(
        lines.slice(i, i + CONCURRENCY).map((line) => {
          const { headers, body } = HTTP.binary(this.event(line));
          return this.post(headers as Record<string, string>, body as string);
        }),
      );
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  /** The record's event, its data the record's JSON text. */
  private event(line: string): CloudEvent<string> {
    const [, type, id, time, model, version] = headOf(line);
    return new CloudEvent<string>(
      {
        id: id!,
        type: typeOf(type!),
        source: this.source,
        time: time!,
        datacontenttype: 'application/json',
        inferenceservicename: JSON.parse(model!) as string,
        modelversion: version!,
        data: line,
      },
      false,
    );
  }

  /**
   * The event in structured mode (JSON), its data the record itself rather than a string of it:
   * the same attributes as event() gives, written from the record's head (its id, time and
   * version hold no character JSON escapes, its model is JSON text already), no object made.
   */
  private structured(line: string): string {
    const [, type, id, time, model, version] = headOf(line);
    return (
      `{"specversion":"1.0","id":"${id}","type":"${typeOf(type!)}","source":${this.sourceJson},"time":"${time}",` +
      `"datacontenttype":"application/json","inferenceservicename":${model},"modelversion":"${version}","data":${line}}`
    );
  }

  private post(headers: Record<string, string>, body: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = this.client.request(
        this.url,
        { method: 'POST', agent: this.agent, headers, timeout: this.timeoutMs },
        (response) => {
          response.resume();
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`the collector answered ${status}`));
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      request.on('error', reject);
      request.end(body);
    });
  }
}
