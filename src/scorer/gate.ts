/** The gate in front of the model: as many native calls at once as the load option `parallel`. */

/**
 * Lets `size` native calls into the model at once, in call order (the engine admits as many; its
 * context is shared by them). `idle()` resolves when none is running or waiting.
 */
export class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly settled = new Set<Promise<unknown>>();
  constructor(private readonly size: number) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.acquire().then(async () => {
      try {
        return await fn();
      } finally {
        this.running--;
        this.waiting.shift()?.();
      }
    });
    const tracked = p.catch(() => undefined);
    this.settled.add(tracked);
    void tracked.then(() => this.settled.delete(tracked));
    return p;
  }

  async idle(): Promise<void> {
    while (this.settled.size > 0) await Promise.all([...this.settled]);
  }

  private acquire(): Promise<void> {
    if (this.running < this.size && this.waiting.length === 0) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.running++;
        resolve();
      }),
    );
  }
}

