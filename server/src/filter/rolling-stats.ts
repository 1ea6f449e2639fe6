/** Fixed-size ring of recent samples with a median; no allocation per sample. */
export class RollingSamples {
  private buf: Float64Array;
  private scratch: Float64Array;
  private n = 0;
  private i = 0;

  constructor(size = 64) {
    this.buf = new Float64Array(size);
    this.scratch = new Float64Array(size);
  }

  add(v: number): void {
    this.buf[this.i] = v;
    this.i = (this.i + 1) % this.buf.length;
    if (this.n < this.buf.length) this.n++;
  }

  quantile(q: number): number | null {
    if (this.n === 0) return null;
    const s = this.scratch.subarray(0, this.n);
    s.set(this.buf.subarray(0, this.n));
    s.sort();
    return s[Math.min(this.n - 1, Math.floor(q * this.n))];
  }

  median(): number | null {
    return this.quantile(0.5);
  }

  clear(): void {
    this.n = 0;
    this.i = 0;
  }
}

/** Events per second over a sliding one-second-ish window. */
export class RateMeter {
  private count = 0;
  private since = performance.now();
  private last = 0;

  tick(): void {
    this.count++;
  }

  /** Rate since the previous call (call about once a second); minDt: shortest window to measure over, in s. */
  sample(minDt = 0.2): number {
    const now = performance.now();
    const dt = (now - this.since) / 1000;
    if (dt > minDt) {
      this.last = this.count / dt;
      this.count = 0;
      this.since = now;
    }
    return this.last;
  }
}

/**
 * Matches "start" times to later "end" events in order (e.g. the last RTP packet of a frame
 * to the decoded frame), forgetting stale starts so a lost frame cannot shift every later
 * match for good.
 */
export class FifoTimer {
  private times: number[] = [];
  private payloads: number[] = [];
  /** The payload given to the start that the last `end` matched. */
  lastPayload = 0;
  constructor(private readonly maxPending = 4, private readonly maxAgeMs = 1000) {}

  start(t = performance.now(), payload = 0): void {
    if (this.times.length >= this.maxPending) {
      this.times.shift();
      this.payloads.shift();
    }
    this.times.push(t);
    this.payloads.push(payload);
  }

  /** Milliseconds since the matching start, or null when there is none. */
  end(now = performance.now()): number | null {
    while (this.times.length && now - this.times[0] > this.maxAgeMs) {
      this.times.shift();
      this.payloads.shift();
    }
    const t = this.times.shift();
    this.lastPayload = this.payloads.shift() ?? 0;
    return t === undefined ? null : now - t;
  }

  clear(): void {
    this.times.length = 0;
    this.payloads.length = 0;
  }
}

/**
 * Pairs "start" times with later "end" times, when either side may arrive late (the filter
 * worker reports its frame times in batches; mediasoup's trace events arrive live).
 *
 * 'fifo' (a stage that may queue but loses nothing, e.g. the encoder: every frame in comes
 * out): the oldest start goes with the oldest end. An end earlier than the oldest start has
 * no start and is dropped; a start older than maxAgeMs before the oldest end lost its end and
 * is dropped.
 *
 * 'latest' (a stage that keeps up but may lose inputs, e.g. the decoder: packets of frames
 * before the first keyframe, or of a damaged frame, never come out; starts must arrive live):
 * an end goes with the latest start at or before it, and the starts before that one are
 * dropped, so lost frames never shift later matches.
 *
 * Fixed rings: nothing allocated per sample.
 */
export class TimeMatcher {
  private readonly st: Float64Array;
  private readonly sp: Float64Array;
  private readonly en: Float64Array;
  private sHead = 0;
  private sLen = 0;
  private eHead = 0;
  private eLen = 0;

  constructor(
    private readonly onMatch: (start: number, payload: number, end: number) => void,
    private readonly maxAgeMs = 1000,
    private readonly size = 16,
    private readonly mode: 'fifo' | 'latest' = 'fifo',
  ) {
    this.st = new Float64Array(size);
    this.sp = new Float64Array(size);
    this.en = new Float64Array(size);
  }

  start(t: number, payload = 0): void {
    if (this.sLen === this.size) this.popStart();
    const i = (this.sHead + this.sLen) % this.size;
    this.st[i] = t;
    this.sp[i] = payload;
    this.sLen++;
    this.drain();
  }

  end(t: number): void {
    if (this.eLen === this.size) this.popEnd();
    this.en[(this.eHead + this.eLen) % this.size] = t;
    this.eLen++;
    this.drain();
  }

  private popStart(): void {
    this.sHead = (this.sHead + 1) % this.size;
    this.sLen--;
  }

  private popEnd(): void {
    this.eHead = (this.eHead + 1) % this.size;
    this.eLen--;
  }

  private drain(): void {
    if (this.mode === 'latest') {
      while (this.eLen) {
        const e = this.en[this.eHead];
        this.popEnd();
        let k = -1;
        for (let j = 0; j < this.sLen && this.st[(this.sHead + j) % this.size] <= e; j++) k = j;
        if (k < 0) continue;
        const i = (this.sHead + k) % this.size;
        const s = this.st[i];
        const p = this.sp[i];
        this.sHead = (i + 1) % this.size;
        this.sLen -= k + 1;
        if (e - s <= this.maxAgeMs) this.onMatch(s, p, e);
      }
      return;
    }
    while (this.sLen && this.eLen) {
      const s = this.st[this.sHead];
      const e = this.en[this.eHead];
      if (e < s) {
        this.popEnd();
      } else if (e - s > this.maxAgeMs) {
        this.popStart();
      } else {
        const p = this.sp[this.sHead];
        this.popStart();
        this.popEnd();
        this.onMatch(s, p, e);
      }
    }
  }

  clear(): void {
    this.sLen = 0;
    this.eLen = 0;
  }
}
