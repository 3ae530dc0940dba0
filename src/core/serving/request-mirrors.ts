import type { RowPrediction } from '../codec/output-codec.js';
import type { NamedTensors } from '../tensors/tensor.js';
import type { BatchRequest } from './batcher.js';
import type { ModelRunner } from './model-runner.js';

/** What the data plane lends the shadows: its batching (a background lane) and whether clients wait for workers. */
export interface ShadowLane {
  execute(
    runner: ModelRunner,
    tensors: NamedTensors,
    rows: number,
    fetch: string[],
    timeoutMs: number,
    lane: Pick<BatchRequest, 'background' | 'onDispatch'>,
  ): Promise<NamedTensors>;
  clientsWaiting(): boolean;
}

/** A request's copies for its shadows: they run once the primary answer is decided, or are let go when it fails. */
export interface ShadowMirror {
  launch(primary: RowPrediction[] | undefined): void;
  drop(): void;
}

/**
 * Where the data plane mirrors a request once its inputs are checked (shadow traffic:
 * experiments/shadow-traffic.ts implements it): undefined when this request is not mirrored.
 */
export interface RequestMirrors {
  sample(runner: ModelRunner, tensors: NamedTensors, rows: number): ShadowMirror | undefined;
}
