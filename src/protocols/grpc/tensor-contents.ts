import { lengthPrefixed } from '../../core/tensors/binary.js';
import { dtypes, type DType } from '../../core/tensors/dtypes.js';
import { invalidAt } from '../../core/tensors/tensor-errors.js';
import { bigIntOf, type Int64 } from './proto.js';

/** InferTensorContents as protobufjs decodes it: every repeated field present, empty when unsent. */
export interface TensorContentsMessage {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Int64[];
  uint_contents?: number[];
  uint64_contents?: Int64[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

type Field = keyof TensorContentsMessage;

/** The one contents field each datatype travels in (FP16 and BF16 have none: raw_input_contents only). */
const FIELD: Partial<Record<DType, Field>> = {
  bool: 'bool_contents',
  int8: 'int_contents',
  int16: 'int_contents',
  int32: 'int_contents',
  int64: 'int64_contents',
  uint8: 'uint_contents',
  uint16: 'uint_contents',
  uint32: 'uint_contents',
  uint64: 'uint64_contents',
  float32: 'fp32_contents',
  float64: 'fp64_contents',
  string: 'bytes_contents',
};

const FIELDS = [...new Set(Object.values(FIELD))];

/**
 * An input's typed contents as the bytes raw_input_contents would carry for it (little-endian,
 * row-major; BYTES as 4-byte length prefixes), so that both ways in end in the same tensor decoder
 * with the same checks and messages. Values a narrower datatype cannot hold (300 for INT8) are
 * refused, never wrapped.
 */
export function contentsBytes(
  contents: TensorContentsMessage,
  dtype: DType,
  datatype: string,
  where: string,
): Uint8Array {
  const field = FIELD[dtype];
  const stray = FIELDS.find((f) => f !== field && (contents[f]?.length ?? 0) > 0);
  if (stray)
    throw invalidAt(
      `${where}.contents.${stray}`,
      field
        ? `a ${datatype} input's values travel in contents.${field}`
        : `a ${datatype} input's values travel in raw_input_contents only`,
    );
  if (!field) return new Uint8Array(0);
  const values = contents[field] ?? [];
  const at = (i: number) => `${where}.contents.${field}[${i}]`;
  switch (dtype) {
    case 'string':
      return lengthPrefixed(values as Uint8Array[]);
    case 'bool':
      return Uint8Array.from(values as boolean[], (v) => (v ? 1 : 0));
    case 'int64':
    case 'uint64': {
      const out = dtype === 'int64' ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
      (values as Int64[]).forEach((v, i) => (out[i] = bigIntOf(v)));
      return bytesOf(out);
    }
    default: {
      const { min, max, create } = dtypes[dtype];
      const out = create(values.length);
      const numbers = values as number[];
      for (let i = 0; i < numbers.length; i++) {
        const v = numbers[i]!;
        if (dtypes[dtype].kind === 'int' && (v < min || v > max))
          throw invalidAt(at(i), `${v} is outside the range of ${datatype} (${min} to ${max})`);
        out[i] = v;
      }
      return bytesOf(out);
    }
  }
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}
