import ort from 'onnxruntime-node';

/** onnxruntime-node in this process, with no server in between: what an answer must equal. */
export async function referenceRun(path: string, feeds: Record<string, { type: string; data: unknown; dims: number[] }>, fetch?: string[]) {
  const session = await ort.InferenceSession.create(path);
  try {
    const tensors = Object.fromEntries(Object.entries(feeds).map(([name, f]) => [name, new ort.Tensor(f.type as ort.Tensor.Type, f.data as never, f.dims)]));
    const results = await session.run(tensors, fetch ?? session.outputNames);
    return Object.fromEntries(Object.entries(results).map(([name, t]) => [name, { dims: [...t.dims], data: Array.from(t.data as ArrayLike<unknown>) }]));
  } finally {
    await session.release();
  }
}
