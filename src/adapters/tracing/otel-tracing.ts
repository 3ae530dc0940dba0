import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { IncomingHttpHeaders } from 'node:http';
import type { TraceAttributes, TraceSpan } from '../../core/serving/trace-span.js';
import type { TracingSettings } from './tracing-settings.js';

/** What the server span is made of: the request as HTTP saw it, before any handler ran. */
export interface HttpRequestFacts {
  method: string;
  /** The route template (`/v2/models/:model/infer`), never the raw URL; undefined when no route matched. */
  route?: string;
  path: string;
  headers: IncomingHttpHeaders;
  httpVersion: string;
  clientAddress: string;
}

/** What the spans of one request share. */
interface RequestClock {
  /**
   * performance.now() 0 in epoch ms, read once per request. Every span of the request is timed
   * from it: the SDK, given performance.now() times, corrects each span by its own Date.now()
   * reading (1 ms resolution), which put children up to a millisecond outside their parents.
   */
  readonly origin: number;
  /** Where the last step ended: the response step begins there. */
  lastStepEnd: number;
}

/** A step's span; children are recorded with explicit start and end times (see core/serving/trace-span.ts). */
class OtelSpan implements TraceSpan {
  constructor(
    protected readonly span: Span,
    protected readonly tracer: Tracer,
    protected readonly clock: RequestClock,
  ) {}

  child(name: string, startMs: number, attributes?: TraceAttributes): TraceSpan {
    const context = trace.setSpan(ROOT_CONTEXT, this.span);
    return new OtelSpan(
      this.tracer.startSpan(name, { startTime: this.clock.origin + startMs, attributes }, context),
      this.tracer,
      this.clock,
    );
  }

  set(attributes: TraceAttributes): void {
    this.span.setAttributes(attributes);
  }

  fail(code: string, message: string): TraceSpan {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: `${code}: ${message}` });
    this.span.setAttribute(ATTR_ERROR_TYPE, code);
    return this;
  }

  end(endMs: number): void {
    this.span.end(this.clock.origin + endMs);
    if (endMs > this.clock.lastStepEnd) this.clock.lastStepEnd = endMs;
  }
}

/** The SERVER span of one HTTP request: the root of the service's part of the trace. */
export class ServerSpan extends OtelSpan {
  private failed = false;

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  get spanId(): string {
    return this.span.spanContext().spanId;
  }

  /** W3C Trace Context Level 2's response header: which trace, and which span, answered. */
  get traceresponse(): string {
    const { traceId, spanId, traceFlags } = this.span.spanContext();
    return `00-${traceId}-${spanId}-0${traceFlags & 1}`;
  }

  override fail(code: string, message: string): TraceSpan {
    this.failed = true;
    return super.fail(code, message);
  }

  /**
   * The answer has been written: the response step (from the last step's end: the task's
   * decoding, the protocol's encoding and the write) and the status, then the span ends.
   */
  finish(statusCode: number): void {
    const now = performance.now();
    if (this.clock.lastStepEnd > 0) this.child('respond', this.clock.lastStepEnd).end(now);
    this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode);
    if (statusCode >= 400 && !this.failed) this.fail(String(statusCode), `answered ${statusCode}`);
    this.span.end(this.clock.origin + now);
  }

  /** The client went away before its answer. */
  abort(): void {
    this.fail('aborted', 'the client closed the connection before the answer');
    this.span.end(this.clock.origin + performance.now());
  }
}

function samplerOf(settings: TracingSettings): Sampler {
  const root = {
    always_on: () => new AlwaysOnSampler(),
    always_off: () => new AlwaysOffSampler(),
    traceidratio: () => new TraceIdRatioBasedSampler(settings.ratio),
  }[settings.sampler.replace('parentbased_', '') as 'always_on' | 'always_off' | 'traceidratio']();
  return settings.sampler.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root;
}

/**
 * OpenTelemetry's SDK behind the core's TraceSpan: a tracer provider with a batch span processor
 * exporting OTLP/HTTP JSON, and the W3C trace context read from each request. No global provider,
 * context manager or instrumentation is installed: spans are made here, explicitly, and nowhere else.
 */
export class OtelTracing {
  private readonly propagator = new W3CTraceContextPropagator();

  private constructor(
    private readonly provider: BasicTracerProvider,
    private readonly tracer: Tracer,
  ) {}

  static start(settings: TracingSettings, serviceVersion: string): OtelTracing {
    // Exporter headers, timeout and compression come from OTEL_EXPORTER_OTLP_* as the exporter reads them.
    const exporter = new OTLPTraceExporter({ url: settings.url });
    const resource = defaultResource()
      .merge(detectResources({ detectors: [envDetector] })) // OTEL_RESOURCE_ATTRIBUTES
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, 'service.version': serviceVersion }));
    const provider = new BasicTracerProvider({
      resource,
      sampler: samplerOf(settings),
      spanProcessors: [new BatchSpanProcessor(exporter, settings.batch)],
    });
    return new OtelTracing(provider, provider.getTracer('onnx-serve', serviceVersion));
  }

  /** The request's server span, a child of the caller's `traceparent` when it sent one; undefined when not sampled. */
  startRequest(request: HttpRequestFacts): ServerSpan | undefined {
    const parent = request.headers.traceparent
      ? this.propagator.extract(ROOT_CONTEXT, request.headers, defaultTextMapGetter)
      : ROOT_CONTEXT;
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: request.method,
      [ATTR_URL_PATH]: request.path,
      [ATTR_URL_SCHEME]: 'http',
      [ATTR_NETWORK_PROTOCOL_VERSION]: request.httpVersion,
      [ATTR_CLIENT_ADDRESS]: request.clientAddress,
    };
    if (request.route) attributes[ATTR_HTTP_ROUTE] = request.route;
    const agent = request.headers['user-agent'];
    if (agent) attributes[ATTR_USER_AGENT_ORIGINAL] = agent;
    const name = request.route ? `${request.method} ${request.route}` : request.method;
    const now = performance.now();
    const origin = Date.now() - now;
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes, startTime: origin + now }, parent);
    return span.isRecording() ? new ServerSpan(span, this.tracer, { origin, lastStepEnd: 0 }) : undefined;
  }

  /** Exports every ended span now (tests; the batch processor otherwise sends every 5 s). */
  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  /** Exports what is left and stops; called when the app closes. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
