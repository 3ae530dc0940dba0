import ort from 'onnxruntime-node';

/** onnxruntime-node in this process, with no server in between: what an answer must equal. */
export async function referenceRun(
  path: string,
  feeds: Record<string, { type: string; data: unknown; dims: number[] }>,
  fetch?: string[],
) {
  const session = await ort.InferenceSession.create(path);
  try {
    const tensors = Object.fromEntries(
      Object.entries(feeds).map(([name, f]) => {
        const tensor = new ort.Tensor(f.type as ort.Tensor.Type, f.data as never, f.dims);
        // onnxruntime-node 1.30 cannot read the Float16Array Node 24 wraps float16 bits in (see
        // src/runtime/run-session.ts)
        if (f.type === 'float16') (tensor as unknown as { cpuData: unknown }).cpuData = f.data;
        return [name, tensor];
      }),
    );
    const results = await session.run(tensors, fetch ?? session.outputNames);
    // float16 as its bits on every Node version, as the server answers them
    const plain = (t: ort.Tensor) =>
      t.type === 'float16'
        ? new Uint16Array((t.data as Uint16Array).buffer, (t.data as Uint16Array).byteOffset, t.size)
        : t.data;
    return Object.fromEntries(
      Object.entries(results).map(([name, t]) => [
        name,
        { dims: [...t.dims], data: Array.from(plain(t) as ArrayLike<unknown>) },
      ]),
    );
  } finally {
    await session.release();
  }
}
