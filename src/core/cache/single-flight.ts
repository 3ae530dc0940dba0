/**
 * Concurrent identical cache misses run one inference: the first request to miss a key leads,
 * later ones join its promise until it settles.
 */
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  joinable(key: string): Promise<T> | undefined {
    return this.inflight.get(key);
  }

  /** Registers a promise for each key, runs `work` once for all of them, and settles each from its result. */
  lead(keys: string[], work: () => Promise<T[]>): Promise<T>[] {
    const settle: { resolve: (v: T) => void; reject: (e: unknown) => void }[] = [];
    const promises = keys.map((key) => {
      const promise = new Promise<T>((resolve, reject) => settle.push({ resolve, reject }));
      promise.catch(() => {}); // a joiner may not exist; the leader awaits it below
      this.inflight.set(key, promise);
      return promise;
    });
    work()
      .then(
        (values) => keys.forEach((_, i) => settle[i]!.resolve(values[i]!)),
        (err) => settle.forEach((s) => s.reject(err)),
      )
      .finally(() => {
        keys.forEach((key, i) => {
          if (this.inflight.get(key) === promises[i]) this.inflight.delete(key);
        });
      });
    return promises;
  }

  get size(): number {
    return this.inflight.size;
  }
}
