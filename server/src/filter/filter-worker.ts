/**
 * A filter worker process: one per filtered stream, forked by the SFU (filter-worker-pool.ts)
 * with `node --import tsx`. It owns the per-frame work — the ffmpeg decoder, the FrameLoop with
 * the stream's processor, the ffmpeg encoder — so a processor that crashes, leaks or hangs
 * takes down this process only, never the SFU or another stream. Protocol: worker-protocol.ts.
 * This thread only moves frames between the pipes and the loop; the processor chain runs on a
 * thread of its own (processor-thread.ts), so its work never holds the pipes up.
 */
import fs from 'node:fs';
import type { ProcessContext } from '@portrait-edit/models';
import { decoderArgs, decoderSdp, encoderArgs } from './ffmpeg-args.js';
import { PlayoutDelayRelay } from './playout-delay-relay.js';
import { spawnFfmpeg, stopFfmpeg } from './ffmpeg-process.js';
import { FrameLoop } from './frame-loop.js';
import { ThreadedProcessor } from './processor-thread.js';
import {
  FRAME_RING,
  TICK_MS,
  nowAbs,
  type FromWorker,
  type PromptSwitchTimes,
  type ToWorker,
  type WorkerSettings,
} from './worker-protocol.js';

if (!process.send) {
  process.stderr.write('filter-worker: must be started by the SFU with an IPC channel\n');
  process.exit(2);
}
closeInheritedInetSockets();

/**
 * Native code in the SFU's process (libwebrtc in the bench's publishers, say) may open sockets
 * without close-on-exec; a forked worker would inherit them and keep their ports bound for as
 * long as it lives (a warm spare: indefinitely), and pass them on to its ffmpeg children. Node
 * itself opens no inet sockets before this runs, so every inet socket here was inherited.
 */
function closeInheritedInetSockets(): void {
  let fds: string[];
  try {
    fds = fs.readdirSync('/proc/self/fd');
  } catch {
    return; // not Linux
  }
  const inet = new Set<string>();
  for (const f of ['/proc/net/udp', '/proc/net/udp6', '/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
        const inode = line.trim().split(/\s+/)[9];
        if (inode) inet.add(inode);
      }
    } catch {
      // No such table (IPv6 off).
    }
  }
  for (const fd of fds) {
    const n = Number(fd);
    if (!(n > 2)) continue;
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (m && inet.has(m[1])) fs.closeSync(n);
    } catch {
      // Gone meanwhile (readdir's own fd).
    }
  }
}

type Ffmpeg = ReturnType<typeof spawnFfmpeg>;

let processor: ThreadedProcessor | null = null;
let initialising: Promise<void> | null = null;
let decoder: Ffmpeg | null = null;
let encoder: Ffmpeg | null = null;
/** Between the encoder and the SFU: adds the playout-delay extension (playout-delay-relay.ts). */
let relay: PlayoutDelayRelay | null = null;
let loop: FrameLoop | null = null;
let tickTimer: NodeJS.Timeout | null = null;
let stopping: Promise<void> | null = null;

/** The context every frame reads; replaced (not mutated) when settings change. */
let ctx: ProcessContext = { peerId: '', settings: undefined as unknown as ProcessContext['settings'] };
let settingsChangedAt: number | null = null;
let switchFrameStarted: number | null = null;
let lastSwitchMs: number | null = null;
let firstFrameSent = false;
let firstOutSent = false;

// Frame times since the last tick, in preallocated rings: nothing allocated per frame.
const decoded = new Float64Array(FRAME_RING);
let nDecoded = 0;
const encoded = new Float64Array(FRAME_RING * 2);
let nEncoded = 0;

function send(msg: FromWorker): void {
  if (!process.connected) return;
  try {
    process.send!(msg, undefined, undefined, () => {});
  } catch {
    // The SFU is gone; 'disconnect' cleans up.
  }
}

function applySettings(s: WorkerSettings): void {
  const reference = s.reference === undefined ? ctx.reference : (s.reference ?? undefined);
  ctx = { peerId: s.peerId, settings: s.settings, reference };
  // The prompt starts encoding now, not when the next frame happens to look at it.
  processor?.prepare(ctx);
}

let shownSwitchSeq = -1;
/** The last prompt switch seen on its way to the encoder, not yet reported in a tick. */
let switchToReport: PromptSwitchTimes | null = null;

/** Called per frame out: one method call and a few compares, nothing allocated unless a switch completed. */
function notePromptSwitch(p: ThreadedProcessor, outAt: number): void {
  const sw = p.promptSwitch();
  if (!sw || sw.seq === shownSwitchSeq || sw.readyAt === null || sw.shownAt === null || outAt < sw.shownAt) return;
  shownSwitchSeq = sw.seq;
  const o = performance.timeOrigin;
  switchToReport = { seq: sw.seq, requestedAt: o + sw.requestedAt, readyAt: o + sw.readyAt, shownAt: o + outAt };
}

async function thumbnails(id: number, presets: string[]): Promise<void> {
  try {
    // A processor without previews answers with why (processor-thread-entry.ts).
    if (!processor) throw new Error('processor not initialised');
    const images = await processor.presetThumbnails(presets);
    send({ type: 'thumbnails', id, images, ...(images ? {} : { reason: 'no face seen in your video yet' }) });
  } catch (err) {
    send({ type: 'thumbnails', id, images: null, reason: err instanceof Error ? err.message : String(err) });
  }
}

async function init(name: string): Promise<void> {
  try {
    // The chain runs on its own thread: this one keeps the decoder and encoder pipes moving.
    processor = await ThreadedProcessor.create(name);
    // Settings that came with 'start' before the processor existed.
    if (ctx.settings) processor.prepare(ctx);
    send({ type: 'initialised', processor: processor.name });
  } catch (err) {
    send({ type: 'initFailed', reason: err instanceof Error ? err.message : String(err) });
  }
}

function start(m: Extract<ToWorker, { type: 'start' }>): void {
  if (!processor || loop) {
    send({ type: 'failed', reason: processor ? 'worker already started' : 'processor not initialised' });
    return;
  }
  const p = processor;
  encoder = spawnFfmpeg(m.ffmpegPath, encoderArgs(relay ? { ...m.encoder, rtpPort: relay.port } : m.encoder));
  loop = new FrameLoop({
    width: m.width,
    height: m.height,
    processor: p,
    context: () => {
      // The first frame that starts after a settings change is the one that shows it.
      if (settingsChangedAt !== null && switchFrameStarted === null) switchFrameStarted = settingsChangedAt;
      return ctx;
    },
    output: encoder.child.stdin,
    onFrameIn: (t) => {
      const abs = performance.timeOrigin + t;
      if (nDecoded < FRAME_RING) decoded[nDecoded++] = abs;
      if (!firstFrameSent) {
        firstFrameSent = true;
        send({ type: 'firstFrame', at: abs });
      }
    },
    onFrameOut: (t, tIn) => {
      notePromptSwitch(p, t);
      const abs = performance.timeOrigin + t;
      if (nEncoded < FRAME_RING) {
        encoded[2 * nEncoded] = performance.timeOrigin + tIn;
        encoded[2 * nEncoded + 1] = abs;
        nEncoded++;
      }
      // Report the first frame out at once: the SFU announces the stream with these stats.
      if (!firstOutSent) {
        firstOutSent = true;
        // Measured over however short a window: the stats must not say 0 fps once frames flow.
        setImmediate(() => tick(0.02));
      }
      if (switchFrameStarted !== null) {
        lastSwitchMs = abs - switchFrameStarted;
        switchFrameStarted = null;
        settingsChangedAt = null;
      }
    },
  });
  decoder = spawnFfmpeg(m.ffmpegPath, decoderArgs({ width: m.width, height: m.height }));
  decoder.child.stdin.end(decoderSdp(m.decoder.port, m.decoder.payloadType));
  const l = loop;
  decoder.child.stdout.on('data', (chunk: Buffer) => l.push(chunk));
  send({ type: 'pids', decoder: decoder.child.pid ?? null, encoder: encoder.child.pid ?? null });
  void announceListening(m.decoder.port);
  for (const [name, f] of [['decoder', decoder], ['encoder', encoder]] as const) {
    void f.exited.then((code) => {
      if (stopping) return;
      send({ type: 'failed', reason: `ffmpeg ${name} exited (${code}): ${f.stderrTail() || 'no message'}` });
    });
  }
}

/** Tells the SFU once the decoder has bound its RTP port (Linux /proc; a fixed wait elsewhere). */
async function announceListening(port: number): Promise<void> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const bound = () => {
    for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
      let text = '';
      try {
        text = fs.readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        const local = line.trim().split(/\s+/)[1];
        if (local?.endsWith(`:${hex}`)) return true;
      }
    }
    return false;
  };
  const hasProc = fs.existsSync('/proc/net/udp');
  for (let i = 0; i < 150 && !stopping && !firstFrameSent; i++) {
    if (hasProc ? bound() : i >= 15) {
      send({ type: 'decoderListening' });
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tick(minRateWindowS?: number): void {
  const msg: FromWorker = {
    type: 'tick',
    at: nowAbs(),
    loop: loop ? loop.stats(minRateWindowS) : null,
    lastSwitchMs,
    edits: processor?.editCount ?? null,
    promptSwitch: switchToReport,
    decoded: decoded.slice(0, nDecoded),
    encoded: encoded.slice(0, 2 * nEncoded),
  };
  nDecoded = 0;
  nEncoded = 0;
  switchToReport = null;
  send(msg);
}

function stop(code: number): Promise<void> {
  stopping ??= (async () => {
    if (tickTimer) clearInterval(tickTimer);
    loop?.close();
    await Promise.all([decoder && stopFfmpeg(decoder), encoder && stopFfmpeg(encoder)]);
    relay?.close();
    try {
      await initialising;
      await processor?.close?.();
    } catch {
      // Closing must not keep the process alive.
    }
    process.exit(code);
  })();
  return stopping;
}

process.on('message', (m: ToWorker) => {
  if (stopping) return;
  switch (m.type) {
    case 'init':
      initialising ??= init(m.processor);
      return;
    case 'start':
      // Applied now, not after init: a settings message may follow before init is done.
      applySettings(m.ctx);
      void (initialising ?? Promise.resolve()).then(async () => {
        // Without the relay (no socket to be had) the encoder sends to the SFU directly: frames
        // still flow, receivers just buffer them longer.
        relay = await PlayoutDelayRelay.open(m.encoder.rtpPort).catch(() => null);
        if (stopping) return;
        start(m);
        tickTimer = setInterval(tick, TICK_MS);
        tick();
      });
      return;
    case 'settings':
      applySettings(m.ctx);
      settingsChangedAt = m.at;
      switchFrameStarted = null;
      return;
    case 'thumbnails':
      void thumbnails(m.id, m.presets);
      return;
    case 'stop':
      void stop(0);
      return;
  }
});
// The SFU went away (or closed the channel): nobody will ever stop us.
process.on('disconnect', () => void stop(0));
