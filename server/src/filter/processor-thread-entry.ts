/**
 * The processor thread of a filter worker (see processor-thread.ts): builds the stream's
 * processor chain and runs frames through it in a SharedArrayBuffer shared with the worker's
 * main thread, which meanwhile keeps the decoder and encoder pipes flowing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FrameProcessor, ProcessContext, Frame } from '@portrait-edit/models';
import { createProcessor } from './processor-registry.js';
import type { PromptAwareProcessor } from './worker-protocol.js';
import type { FromThread, PromptSwitchRel, ToThread } from './processor-thread.js';

const port = parentPort!;
const name = (workerData as { data: { processor: string } }).data.processor;

let processor: FrameProcessor | null = null;
let aware: PromptAwareProcessor | null = null;
let ctx: ProcessContext | null = null;
let slot: Uint8Array | null = null;
/** The frame object handed to process(), reused: its fields are rewritten per frame. */
const frame: Frame = { width: 0, height: 0, data: new Uint8Array(0), timestampMs: 0 };
/** The prompt switch as last reported. */
const last: { seq: number; readyAt: number | null; shownAt: number | null } = { seq: -1, readyAt: null, shownAt: null };

const post = (m: FromThread): void => port.postMessage(m);

function innermostAware(p: FrameProcessor): PromptAwareProcessor | null {
  let q = p as PromptAwareProcessor | null;
  while (q?.inner) q = q.inner as PromptAwareProcessor;
  return q && (q.prepare || q.promptSwitch || q.presetThumbnails) ? q : null;
}

/** The prompt switch, only when it changed since the last reply (nothing allocated otherwise). */
function switchIfChanged(): PromptSwitchRel | null {
  const sw = aware?.promptSwitch?.();
  if (!sw) return null;
  if (sw.seq === last.seq && sw.readyAt === last.readyAt && sw.shownAt === last.shownAt) return null;
  last.seq = sw.seq;
  last.readyAt = sw.readyAt;
  last.shownAt = sw.shownAt;
  return { seq: sw.seq, requestedAt: sw.requestedAt, readyAt: sw.readyAt, shownAt: sw.shownAt };
}

async function processOne(seq: number, width: number, height: number, timestampMs: number): Promise<void> {
  if (!processor || !slot || !ctx) {
    post({ type: 'processFailed', seq, message: 'processor thread not ready' });
    return;
  }
  const bytes = width * height * 3;
  frame.width = width;
  frame.height = height;
  frame.timestampMs = timestampMs;
  frame.data = slot.length === bytes ? slot : slot.subarray(0, bytes);
  try {
    const r = await processor.process(frame, ctx);
    if (r.frame.data.length !== bytes) throw new Error('processor returned a frame of the wrong size');
    if (r.frame.data !== frame.data) frame.data.set(r.frame.data);
    post({ type: 'processed', seq, edited: r.edited, reason: r.reason ?? null, promptSwitch: switchIfChanged(), edits: aware?.editCount ?? null });
  } catch (err) {
    post({ type: 'processFailed', seq, message: err instanceof Error ? err.message : String(err) });
  }
}

async function thumbnails(id: number, ids: string[]): Promise<void> {
  try {
    if (!aware?.presetThumbnails) {
      post({ type: 'thumbnails', id, images: null, error: `the ${processor?.name ?? 'current'} processor makes no previews` });
      return;
    }
    post({ type: 'thumbnails', id, images: await aware.presetThumbnails(ids), error: null });
  } catch (err) {
    post({ type: 'thumbnails', id, images: null, error: err instanceof Error ? err.message : String(err) });
  }
}

port.on('message', (m: ToThread) => {
  switch (m.type) {
    case 'buffer':
      slot = new Uint8Array(m.buffer);
      return;
    case 'ctx':
      ctx = m.ctx;
      if (m.prepare) aware?.prepare?.(m.ctx);
      return;
    case 'process':
      void processOne(m.seq, m.width, m.height, m.timestampMs);
      return;
    case 'thumbnails':
      void thumbnails(m.id, m.ids);
      return;
    case 'close':
      void Promise.resolve(processor?.close?.())
        .catch(() => {})
        .finally(() => post({ type: 'closed' }));
      return;
  }
});

createProcessor(name).then(
  (p) => {
    processor = p;
    aware = innermostAware(p);
    if (ctx) aware?.prepare?.(ctx);
    post({ type: 'ready', name: p.name, timeOrigin: performance.timeOrigin });
  },
  (err: unknown) => post({ type: 'initFailed', reason: err instanceof Error ? err.message : String(err) }),
);
