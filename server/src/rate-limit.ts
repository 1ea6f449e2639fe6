/** Token bucket: `rate` tokens per second, at most `burst` saved up. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly rate: number, private readonly burst: number) {
    this.tokens = burst;
  }

  take(n = 1): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/** One bucket per key (e.g. client IP), forgotten after a quiet while. */
export class KeyedRateLimiter {
  private buckets = new Map<string, { b: TokenBucket; seen: number }>();
  constructor(private readonly rate: number, private readonly burst: number) {}

  take(key: string): boolean {
    const now = Date.now();
    if (this.buckets.size > 10_000) {
      for (const [k, v] of this.buckets) if (now - v.seen > 600_000) this.buckets.delete(k);
    }
    let e = this.buckets.get(key);
    if (!e) this.buckets.set(key, (e = { b: new TokenBucket(this.rate, this.burst), seen: now }));
    e.seen = now;
    return e.b.take();
  }
}
