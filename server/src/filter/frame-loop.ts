import type { Writable } from 'node:stream';
import type { Frame, FrameProcessor, ProcessContext } from '@portrait-edit/models';
import { RateMeter, RollingSamples } from './rolling-stats.js';

export interface FrameLoopOptions {
  width: number;
  height: number;
  processor: FrameProcessor;
  /** Settings and owner for the next frame, read once per frame. */
  context: () => ProcessContext;
  /** Encoder input. */
  output: Writable;
  /** Called when a frame was handed to the encoder (for encode timing); tIn is when it left the decoder. */
  onFrameOut?: (t: number, tIn: number) => void;
  /** Called when a whole frame came out of the decoder (for decode timing). */
  onFrameIn?: (t: number) => void;
}

export interface FrameLoopStats {
  fpsIn: number;
  fpsOut: number;
  dropped: number;
  processMs: number | null;
  /** From a frame leaving the decoder to it entering the encoder (wait + process). */
  loopMs: number | null;
  passthroughReason: string | null;
  framesOut: number;
}

/**
 * Reads raw RGB24 frames from the decoder's byte stream, runs them through the processor one
 * at a time and writes the results to the encoder. Frames are never queued: while the
 * processor is busy only the newest frame waits, older ones are dropped, so a slow processor
 * costs fps, not latency. If the processor throws or returns a bad frame, the original frame
 * goes out unedited and `passthroughReason` says why. A fixed pool of frame buffers is reused,
 * so the per-frame path allocates nothing.
 */
export class FrameLoop {
  readonly frameBytes: number;
  private readonly free: Uint8Array[] = [];
  private filling: Uint8Array;
  private filled = 0;
  private pending: { buf: Uint8Array; t: number } | null = null;
  private busy = false;
  private closed = false;
  /** Copy of the frame being processed, so a failing processor can't leak a half edit. */
  private readonly original: Uint8Array;

  private readonly inRate = new RateMeter();
  private readonly outRate = new RateMeter();
  private readonly processMs = new RollingSamples(64);
  private readonly loopMs = new RollingSamples(64);
  private dropped = 0;
  private framesOut = 0;
  private reason: string | null = 'starting';

  constructor(private readonly o: FrameLoopOptions) {
    this.frameBytes = o.width * o.height * 3;
    // filling + pending + processing + one held by the encoder's write queue.
    for (let i = 0; i < 4; i++) this.free.push(new Uint8Array(this.frameBytes));
    this.filling = this.free.pop()!;
    this.original = new Uint8Array(this.frameBytes);
  }

  /** Feed decoder output; chunks may split or join frames arbitrarily. */
  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length && !this.closed) {
      const n = Math.min(this.frameBytes - this.filled, chunk.length - off);
      this.filling.set(chunk.subarray(off, off + n), this.filled);
      this.filled += n;
      off += n;
      if (this.filled === this.frameBytes) {
        this.filled = 0;
        this.frameComplete();
      }
    }
  }

  private frameComplete(): void {
    const t = performance.now();
    this.inRate.tick();
    this.o.onFrameIn?.(t);
    const buf = this.filling;
    if (!this.busy) {
      this.filling = this.take();
      void this.run(buf, t);
      return;
    }
    if (this.pending) {
      // Drop the older waiting frame, keep the newest.
      this.dropped++;
      this.filling = this.pending.buf;
    } else {
      this.filling = this.take();
    }
    this.pending = { buf, t };
  }

  private take(): Uint8Array {
    const b = this.free.pop();
    // The pool can only run dry if the encoder holds several frames; never stall the reader.
    return b ?? new Uint8Array(this.frameBytes);
  }

  private async run(buf: Uint8Array, tIn: number): Promise<void> {
    this.busy = true;
    let outBuf = buf;
    const frame: Frame = { width: this.o.width, height: this.o.height, data: buf, timestampMs: tIn };
    this.original.set(buf);
    const t0 = performance.now();
    try {
      const r = await this.o.processor.process(frame, this.o.context());
      if (r.frame.data.length !== this.frameBytes) throw new Error('processor returned a frame of the wrong size');
      outBuf = r.frame.data;
      this.reason = r.edited ? null : (r.reason ?? 'not edited');
    } catch (err) {
      buf.set(this.original);
      outBuf = buf;
      this.reason = `filter error: ${err instanceof Error ? err.message : String(err)}`;
    }
    const t1 = performance.now();
    this.processMs.add(t1 - t0);
    if (!this.closed) this.write(outBuf, buf, tIn, t1);
    else this.free.push(buf);
    this.busy = false;
    const p = this.pending;
    if (p && !this.closed) {
      this.pending = null;
      void this.run(p.buf, p.t);
    }
  }

  private write(out: Uint8Array, poolBuf: Uint8Array, tIn: number, now: number): void {
    const w = this.o.output;
    // A backed-up encoder means frames would queue in Node's memory and latency would grow:
    // drop instead.
    if (w.destroyed || !w.writable || w.writableLength >= this.frameBytes) {
      this.dropped++;
      this.free.push(poolBuf);
      return;
    }
    this.loopMs.add(now - tIn);
    this.outRate.tick();
    this.framesOut++;
    this.o.onFrameOut?.(now, tIn);
    // The write may complete later; a processor's own output buffer could be reused for the
    // next frame by then, so the encoder always gets a pool buffer.
    if (out !== poolBuf) poolBuf.set(out);
    w.write(poolBuf, () => {
      if (this.free.length < 4) this.free.push(poolBuf);
    });
  }

  /** minRateWindowS: shortest window the rates are measured over (see RateMeter.sample). */
  stats(minRateWindowS?: number): FrameLoopStats {
    return {
      fpsIn: this.inRate.sample(minRateWindowS),
      fpsOut: this.outRate.sample(minRateWindowS),
      dropped: this.dropped,
      processMs: this.processMs.median(),
      loopMs: this.loopMs.median(),
      passthroughReason: this.reason,
      framesOut: this.framesOut,
    };
  }

  close(): void {
    this.closed = true;
    this.pending = null;
  }
}
