/** What the core reports about predictions; adapters/ turns it into Prometheus series. */
export type PredictionStatus = 'success' | 'invalid_input' | 'error';

export interface PredictionEvent {
  model: string;
  version: string;
  /** The traffic split's variant that served it, if any. */
  variant?: string | undefined;
  status: PredictionStatus;
  /** Wall time from validated input to decoded output, queueing included. */
  seconds: number;
  rows: number;
}

export interface PredictionObserver {
  prediction(event: PredictionEvent): void;
  /** CPU time of one inference run (run time x onnxruntime threads per run). */
  inferenceCost(model: string, version: string, cpuSeconds: number): void;
}
