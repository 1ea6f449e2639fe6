import type { types } from 'mediasoup-client';
import type { FilterStats } from '@portrait-edit/shared';
import { Keyer } from './keyer.js';

/**
 * A participant's tile. Two stacked <video> elements: a new stream (say, the processed one
 * replacing the raw one) plays in the hidden element and is revealed only once it has drawn
 * a frame, so switching never blanks the tile.
 */
export class Tile {
  readonly el: HTMLElement;
  private videos: [HTMLVideoElement, HTMLVideoElement];
  private front = 0;
  private label: HTMLElement;
  private statsEl: HTMLElement;
  private badge: HTMLElement;
  consumer: types.Consumer | null = null;
  audio: HTMLAudioElement | null = null;
  processed = false;
  producerId = '';
  private serverStats: FilterStats | null = null;
  private lastBytes = 0;
  private lastT = 0;
  /** The receiver's jitter buffer totals at the last refresh (delay in s, frames out of it). */
  private readonly lastJb = { delay: 0, frames: 0 };
  private swapToken = 0;
  /** The last stream shown: when show() was called and when its first frame was up (Date.now()). */
  lastSwap: { processed: boolean; calledAt: number; shownAt: number } | null = null;

  constructor(readonly peerId: string, name: string, private readonly local: boolean) {
    this.el = document.createElement('div');
    this.el.className = 'tile';
    this.el.dataset.peerId = peerId;
    this.el.dataset.testid = local ? 'tile-local' : 'tile-remote';
    const mk = () => {
      const v = document.createElement('video');
      v.autoplay = true;
      v.playsInline = true;
      v.muted = true;
      this.el.appendChild(v);
      return v;
    };
    this.videos = [mk(), mk()];
    this.videos[1].classList.add('back');
    this.label = document.createElement('div');
    this.label.className = 'label';
    this.label.textContent = name + (local ? ' (you)' : '');
    this.badge = document.createElement('span');
    this.badge.className = 'badge';
    this.label.appendChild(this.badge);
    this.statsEl = document.createElement('div');
    this.statsEl.className = 'stats';
    this.el.append(this.label, this.statsEl);
  }

  /** The element currently shown (tests read pixels from it). */
  get video(): HTMLVideoElement {
    return this.videos[this.front];
  }

  /** Show a stream; resolves once it is on screen. Returns the consumer it replaced. */
  async show(stream: MediaStream, consumer: types.Consumer | null, processed: boolean, producerId: string): Promise<types.Consumer | null> {
    const token = ++this.swapToken;
    const calledAt = Date.now();
    const back = this.videos[1 - this.front];
    back.srcObject = stream;
    await back.play().catch(() => {});
    await firstFrame(back);
    if (token !== this.swapToken) return consumer; // a newer swap won; drop this one
    back.classList.remove('back');
    this.videos[this.front].classList.add('back');
    const old = this.videos[this.front];
    this.front = 1 - this.front;
    old.srcObject = null;
    this.keyer?.retarget();
    const replaced = this.consumer;
    this.consumer = consumer;
    this.processed = processed;
    this.producerId = producerId;
    this.el.dataset.processed = String(processed);
    this.el.dataset.producerId = producerId;
    this.badge.textContent = processed ? ' · edited' : '';
    this.lastBytes = 0;
    this.lastJb.delay = 0;
    this.lastJb.frames = 0;
    this.lastSwap = { processed, calledAt, shownAt: Date.now() };
    return replaced;
  }

  private keyer: Keyer | null = null;

  /**
   * The sender paints its background in the key colour: show a keyed canvas instead of the
   * video (tiles put a neutral backdrop behind it, the transparent view page nothing).
   */
  setKeying(on: boolean): void {
    if (on && !this.keyer) {
      this.keyer = new Keyer(() => this.video);
      this.el.insertBefore(this.keyer.canvas, this.label);
      this.keyer.start();
    } else if (!on && this.keyer) {
      this.keyer.stop();
      this.keyer.canvas.remove();
      this.keyer = null;
    }
    this.el.classList.toggle('keying', on);
  }

  setName(name: string): void {
    this.label.firstChild!.textContent = name + (this.local ? ' (you)' : '');
  }

  setServerStats(s: FilterStats | null): void {
    this.serverStats = s;
  }

  /** Refresh the overlay: fps, resolution, bitrate from WebRTC stats; added latency from the server. */
  async refreshStats(): Promise<void> {
    const v = this.video;
    const parts: string[] = [];
    let fps: number | null = null;
    let kbps: number | null = null;
    let jbMs: number | null = null;
    if (this.consumer && !this.consumer.closed) {
      const report = await this.consumer.getStats();
      report.forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') {
          fps = r.framesPerSecond ?? null;
          const now = r.timestamp as number;
          if (this.lastBytes && now > this.lastT) kbps = ((r.bytesReceived - this.lastBytes) * 8) / (now - this.lastT);
          this.lastBytes = r.bytesReceived;
          this.lastT = now;
          // What this browser adds before a frame is decoded (the jitter buffer), over the last refresh.
          const delay = r.jitterBufferDelay as number | undefined;
          const frames = r.jitterBufferEmittedCount as number | undefined;
          if (delay !== undefined && frames !== undefined) {
            if (frames > this.lastJb.frames && this.lastJb.frames > 0) jbMs = ((delay - this.lastJb.delay) / (frames - this.lastJb.frames)) * 1000;
            this.lastJb.delay = delay;
            this.lastJb.frames = frames;
          }
        }
      });
    }
    if (fps !== null) parts.push(`${Number(fps).toFixed(0)} fps`);
    if (v.videoWidth) parts.push(`${v.videoWidth}×${v.videoHeight}`);
    if (kbps !== null) parts.push(`${Math.round(kbps)} kbps`);
    if (jbMs !== null) parts.push(`jitter buffer ${Math.round(jbMs)} ms`);
    const s = this.serverStats;
    if (s && this.processed) {
      if (s.addedLatencyMs !== null) parts.push(`+${Math.round(s.addedLatencyMs)} ms filter`);
      parts.push(`${s.fpsOut.toFixed(0)}/${s.fpsIn.toFixed(0)} fps out/in`);
      if (s.editsPerSec != null) parts.push(`${s.editsPerSec.toFixed(0)} edits/s`);
      if (s.lastSwitchMs !== null) parts.push(`last change ${Math.round(s.lastSwitchMs)} ms`);
      const ps = s.lastPromptSwitch;
      if (ps) parts.push(`style: encoded ${Math.round(ps.encodeMs)} ms, on air +${Math.round(ps.readyToFrameMs)} ms`);
      if (s.passthroughReason) parts.push(`unedited: ${s.passthroughReason}`);
    } else if (s && s.state === 'failed') {
      parts.push(`filter off: ${s.passthroughReason}`);
    }
    this.statsEl.textContent = parts.join(' · ');
  }

  close(): void {
    this.setKeying(false);
    for (const v of this.videos) v.srcObject = null;
    this.audio?.remove();
    this.el.remove();
  }
}

function firstFrame(v: HTMLVideoElement): Promise<void> {
  return new Promise((resolve) => {
    const done = () => resolve();
    const rvfc = (v as { requestVideoFrameCallback?: (cb: () => void) => number }).requestVideoFrameCallback;
    if (rvfc) {
      rvfc.call(v, done);
    } else if (v.readyState >= 2) {
      done();
    } else {
      v.addEventListener('loadeddata', done, { once: true });
    }
    // Never keep the old stream forever if the new one stalls.
    setTimeout(done, 8000);
  });
}
