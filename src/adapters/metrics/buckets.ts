/** Sub-millisecond buckets: a tabular model answers in well under 1 ms, and P50 must be visible. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10];
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
export const CONFIDENCE_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1];
/**
 * A regressor's absolute errors, in its target's own units (unknown here): 1-2.5-5 steps from 0.01
 * to 5,000. The MAE itself is exact (_sum / _count).
 */
export const ABSOLUTE_ERROR_BUCKETS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
];
