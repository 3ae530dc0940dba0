import type { DType } from '../../core/tensors/dtypes.js';

/** The Open Inference Protocol's datatype for every element type onnxruntime-node feeds. */
export const OIP_DATATYPE: Record<DType, string> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};

const BY_DATATYPE = new Map(Object.entries(OIP_DATATYPE).map(([dtype, datatype]) => [datatype, dtype as DType]));

export function dtypeOf(datatype: string): DType | undefined {
  return BY_DATATYPE.get(datatype);
}

/** A model dim as OIP metadata writes it: -1 where the size varies. */
export function metadataShape(shape: readonly (number | string | null)[]): number[] {
  return shape.map((d) => (typeof d === 'number' ? d : -1));
}
