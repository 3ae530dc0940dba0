/**
 * An Open Inference Protocol request as Triton's Python client sends it with binary data: the
 * JSON header, then the tensor's bytes; no Content-Type; every output asked for as binary.
 */
export function oipBinaryRequest(
  input: { name: string; datatype: string; shape: number[]; bytes: Buffer },
  outputs: string[],
): { body: Buffer; headers: Record<string, string> } {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: input.name,
          datatype: input.datatype,
          shape: input.shape,
          parameters: { binary_data_size: input.bytes.length },
        },
      ],
      outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
    }),
  );
  return {
    body: Buffer.concat([header, input.bytes]),
    headers: { 'inference-header-content-length': String(header.length) },
  };
}
