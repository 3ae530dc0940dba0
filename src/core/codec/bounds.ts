import { dtypes, fromHalf, toHalf, type DType } from '../tensors/dtypes.js';
import type { FeatureConfig } from '../models/model-config.js';

/** The bounds one value must respect: the dtype's range narrowed by the feature's min/max. */
export interface Bounds {
  /** As declared, for messages and clamping. */
  low: number;
  high: number;
  /**
   * The same bounds in the tensor's own precision, for the check: a float32 tensor holds 7.9 as
   * 7.900000095…, which must not read as above a declared maximum of 7.9.
   */
  lowCheck: number;
  highCheck: number;
  why: string;
}

export function boundsOf(dtype: DType, feature?: FeatureConfig): Bounds {
  const info = dtypes[dtype];
  const named = feature?.min !== undefined || feature?.max !== undefined;
  const low = Math.max(info.min, feature?.min ?? -Infinity);
  const high = Math.min(info.max, feature?.max ?? Infinity);
  const round = precisionOf(dtype);
  return {
    low,
    high,
    lowCheck: round(low),
    highCheck: round(high),
    why: named ? `the range of ${feature.name} in model.json` : `the range of ${dtype}`,
  };
}

function precisionOf(dtype: DType): (x: number) => number {
  if (dtype === 'float32') return Math.fround;
  if (dtype === 'float16') return (x) => fromHalf(toHalf(x));
  return (x) => x;
}
