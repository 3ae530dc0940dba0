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

/** Events in flight at once while a batch is sent. */
const CONCURRENCY = 8;

/**
 * Records POSTed as CloudEvents in binary mode, as KServe's request logger sends them: `ce-*`
 * headers (id = the prediction id, type org.kubeflow.serving.inference.request / .response, our
 * .feedback, source, time, inferenceservicename = the model, modelversion), and the record as the
 * JSON body. A Knative broker, Vector, Fluent Bit or any HTTP collector takes them. A batch that
 * fails (an answer other than 2xx, no answer within timeoutMs) is retried whole: delivery is at
 * least once, and an event's id lets the receiver drop a duplicate.
 */
export class CloudEventsSink implements LogSink {
  readonly name = 'cloudevents';

  constructor(
    private readonly url: string,
    private readonly source: string,
    private readonly timeoutMs: number,
  ) {}

  async write(lines: string[]): Promise<void> {
    for (let i = 0; i < lines.length; i += CONCURRENCY)
      await Promise.all(lines.slice(i, i + CONCURRENCY).map((line) => this.send(line)));
  }

  async close(): Promise<void> {}

  private async send(line: string): Promise<void> {
    const head = HEAD.exec(line);
    if (!head) throw new Error('not an inference log record');
    const [, type, id, time, model, version] = head;
    const event = new CloudEvent<string>({
      id: id!,
      type: EVENT_TYPES[type!] ?? `org.kubeflow.serving.inference.${type}`,
      source: this.source,
      time: time!,
      datacontenttype: 'application/json',
      inferenceservicename: JSON.parse(model!) as string,
      modelversion: version!,
      data: line,
    });
    const { headers, body } = HTTP.binary(event);
    const response = await fetch(this.url, {
      method: 'POST',
      headers: headers as Record<string, string>,
      body: body as string,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`the collector answered ${response.status}`);
  }
}
