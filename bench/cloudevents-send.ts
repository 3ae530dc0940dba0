/**
 * What sending the inference log as CloudEvents costs the service's event loop, CPU µs per event
 * (issue #24): batches of 256 iris response records to an HTTP receiver in a process of its own,
 * by the sink in binary mode (one POST per event) and in batch mode (one POST per batch), beside
 * the first version's way (fetch, and an event validated by the SDK, one POST per event). In turns,
 * 3 rounds. `npx tsx bench/cloudevents-send.ts`
 */
import { CloudEvent, HTTP } from 'cloudevents';
import { CloudEventsSink } from '../src/adapters/inference-log/cloudevents-sink.js';
import { EventReceiver } from './servers.js';

const LINE =
  '{"type":"response","id":"01a24e54-0be0-7dd3-846a-9d7a5cb940b1","time":"2026-12-07T02:27:40.643Z","model":"iris",' +
  '"version":"1","cached":false,"latency_ms":16.237,"predictions":[{"label":"setosa","confidence":0.9811480641365051,' +
  '"probabilities":{"setosa":0.9811480641365051,"versicolor":0.018851403146982193,"virginica":5.020048092774232e-7}}],' +
  '"outputs":[{"name":"probabilities","datatype":"float32","shape":[1,3],"data":[0.9811480641365051,0.018851403146982193,' +
  '5.020048092774232e-7]}]}';
const BATCH = Array.from({ length: 256 }, () => LINE);
const BATCHES = 40;

const receiver = await EventReceiver.start();
const url = `http://127.0.0.1:${receiver.port}/`;

/** The first version's sender: a validated event and fetch() per record, 8 at a time. */
async function firstVersion(lines: string[]): Promise<void> {
  for (let i = 0; i < lines.length; i += 8)
    await Promise.all(
      lines.slice(i, i + 8).map(async (line) => {
        const event = new CloudEvent<string>({
          id: 'x',
          type: 'org.kubeflow.serving.inference.response',
          source: 'onnx-serve',
          datacontenttype: 'application/json',
          inferenceservicename: 'iris',
          modelversion: '1',
          data: line,
        });
        const { headers, body } = HTTP.binary(event);
        const response = await fetch(url, {
          method: 'POST',
          headers: headers as Record<string, string>,
          body: body as string,
        });
        await response.arrayBuffer();
      }),
    );
}

const binary = new CloudEventsSink(url, 'onnx-serve', 5000, 'binary');
const batch = new CloudEventsSink(url, 'onnx-serve', 5000, 'batch');
const senders: [string, (lines: string[]) => Promise<void>][] = [
  ['first version: fetch, validated event, a POST per event', firstVersion],
  ['sink, binary mode: a POST per event', (lines) => binary.write(lines)],
  ['sink, batch mode: a POST per batch', (lines) => batch.write(lines)],
];
const results = new Map<string, number[]>(senders.map(([name]) => [name, []]));
for (let round = 0; round < 3; round++)
  for (const [name, send] of senders) {
    for (let i = 0; i < 5; i++) await send(BATCH);
    const before = process.cpuUsage();
    for (let i = 0; i < BATCHES; i++) await send(BATCH);
    const used = process.cpuUsage(before);
    results.get(name)!.push((used.user + used.system) / (BATCHES * BATCH.length));
  }
await Promise.all([binary.close(), batch.close(), receiver.kill()]);
console.log('| sender | CPU µs per event, median (range over 3 rounds) |');
console.log('| --- | --- |');
for (const [name, xs] of results) {
  const sorted = [...xs].sort((a, b) => a - b);
  console.log(`| ${name} | ${sorted[1]!.toFixed(1)} (${sorted[0]!.toFixed(1)}-${sorted[2]!.toFixed(1)}) |`);
}
