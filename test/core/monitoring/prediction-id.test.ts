import { describe, expect, it } from 'vitest';
import { newPredictionId, predictionIdTime } from '../../../src/core/monitoring/prediction-id.js';

describe('prediction ids (UUIDv7)', () => {
  it('are v7 UUIDs whose first 48 bits give back the time they were made', () => {
    const now = Date.UTC(2026, 10, 29, 3, 0, 0, 123);
    const id = newPredictionId(now);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(predictionIdTime(id)).toBe(now);
  });

  it('differ in their random bits when made in the same millisecond', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => newPredictionId(now)));
    expect(ids.size).toBe(10_000);
  });

  it('sort by time as strings', () => {
    const earlier = newPredictionId(1_700_000_000_000);
    const later = newPredictionId(1_700_000_000_001);
    expect(earlier < later).toBe(true);
  });

  it('are not mistaken for ids of another kind', () => {
    expect(predictionIdTime('6f1c2a9e-0d3b-4c5e-9f70-1a2b3c4d5e6f')).toBeUndefined(); // a v4
  });
});
