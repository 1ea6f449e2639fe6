import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FILTER_SETTINGS, type Prompt } from '@portrait-edit/shared';
import { EditorProcessor } from '../src/editor/processor.js';
import { EditorThread } from '../src/editor/editor-thread.js';
import { EDITOR_SIZE, frontalCamera } from '../src/editor/portrait-editor.js';
import { SupersededError } from '../src/editor/staged-editor.js';
import { readImage, readVideoFrames } from '../src/tracking/media-io.js';
import type { Frame, ProcessContext } from '../src/frame.js';
import { SLOW, facesDir, videoDir } from './helpers.js';

// Pipeline mode (what calls use): the editor runs on its own thread beside the frame path and
// every frame is composited with the newest edit of its face.

const ctx = (prompt: Prompt): ProcessContext => ({ peerId: 'p', settings: { ...DEFAULT_FILTER_SETTINGS, enabled: true, prompt } });
const copy = (f: Frame): Frame => ({ ...f, data: f.data.slice() });
const meanAbs = (a: Uint8Array, b: Uint8Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('editor processor, pipelined', () => {
  const pipe = new EditorProcessor({ pipeline: true });
  // A fresh pair for still pictures: a tracker that followed the clip takes a few frames to
  // settle on a different picture.
  // Never overloaded (see overloadMs): these tests count the frames it tracks.
  const still = new EditorProcessor({ pipeline: true, overloadMs: Infinity });
  const sync = new EditorProcessor();
  let clip: Frame[] = [];
  /** A few frames of a still picture in one prompt, at a camera's pace: that prompt is on screen. */
  const showFor = async (img: Frame, c: ProcessContext) => {
    for (let i = 0; i < 3; i++) {
      await still.process(copy(img), c);
      await sleep(100);
    }
  };
  beforeAll(async () => {
    await Promise.all([pipe.init(), still.init(), sync.init()]);
    for await (const f of readVideoFrames(path.join(videoDir, 'talking-d3.mp4'), { maxFrames: 24, size: { width: 640, height: 480 } })) clip.push(copy(f));
  }, SLOW);
  afterAll(async () => {
    await pipe.close();
    await still.close();
    await sync.close();
    clip = [];
  });

  it('edits every frame of a clip at camera pace, the first one included, with fresh edits as it goes', async () => {
    const c = ctx({ kind: 'preset', id: 'sepia' });
    const before = pipe.editCount;
    for (const f of clip) {
      const t = performance.now();
      const out = copy(f);
      const r = await pipe.process(out, c);
      expect(r).toMatchObject({ edited: true });
      expect(meanAbs(out.data, f.data)).toBeGreaterThan(0.5);
      // Camera pace: the editor thread's replies arrive between frames, as in a call.
      await sleep(Math.max(0, 66 - (performance.now() - t)));
    }
    const edits = pipe.editCount - before;
    expect(edits).toBeGreaterThanOrEqual(3);
    expect(edits).toBeLessThanOrEqual(clip.length);
  }, SLOW);

  it('when tracked frames take too long, the frames between are composited at the last tracked faces', async () => {
    const c = ctx({ kind: 'preset', id: 'sepia' });
    const tracker = pipe.tracker;
    const track = tracker.track.bind(tracker);
    // A frame path without the cores for its work: each tracked frame takes over OVERLOAD_MS.
    tracker.track = async (f) => {
      await sleep(120);
      return track(f);
    };
    try {
      const tracked = tracker.framesTracked, untracked = pipe.untrackedCount;
      for (const f of clip.slice(0, 8)) {
        const out = copy(f);
        expect((await pipe.process(out, c)).edited).toBe(true);
        expect(meanAbs(out.data, f.data)).toBeGreaterThan(0.5);
      }
      expect(tracker.framesTracked - tracked).toBe(4);
      expect(pipe.untrackedCount - untracked).toBe(4);
    } finally {
      tracker.track = track;
    }
    // Fast again: the frame path stays in that mode for a while (OVERLOAD_HOLD_MS, 2 s) rather
    // than go back to tracking and a matte on one frame each time a tracked frame comes in quick.
    const tracked = tracker.framesTracked;
    for (const f of clip.slice(8, 12)) expect((await pipe.process(copy(f), c)).edited).toBe(true);
    expect(tracker.framesTracked - tracked).toBe(2);
  }, SLOW);

  it('a face the tracker lost and found again keeps its edit instead of waiting for a new one', async () => {
    const c = ctx({ kind: 'preset', id: 'sepia' });
    for (const f of clip.slice(0, 3)) await pipe.process(copy(f), c);
    // The tracker starts over: the same face comes back under a new id.
    pipe.tracker.reset();
    const thread = (pipe as unknown as { editThread: EditorThread }).editThread;
    const edit = thread.edit.bind(thread);
    thread.edit = async (...a) => {
      await sleep(2000);
      return edit(...a);
    };
    try {
      // The first tracked frame finds the face again (an overloaded frame path skips tracking
      // on every other frame).
      const tracked = pipe.tracker.framesTracked;
      for (const f of clip.slice(3, 6)) {
        const out = copy(f);
        const t = performance.now();
        expect((await pipe.process(out, c)).edited).toBe(true);
        // Waiting for an editor run of its own would take the stub's 2 s.
        expect(performance.now() - t).toBeLessThan(1500);
        expect(meanAbs(out.data, f.data)).toBeGreaterThan(0.5);
        if (pipe.tracker.framesTracked > tracked) break;
      }
      expect(pipe.tracker.framesTracked).toBe(tracked + 1);
    } finally {
      thread.edit = edit;
      await sleep(2100); // the slowed run started by that frame
    }
  }, SLOW);

  it('on a still picture it converges to what the per-frame editor gives', async () => {
    const img = await readImage(path.join(facesDir, 'ffhq-3.png'));
    const c = ctx({ kind: 'preset', id: 'neon' });
    let last: Frame = img;
    let ref: Frame = img;
    for (let i = 0; i < 10; i++) {
      last = copy(img);
      expect((await still.process(last, c)).edited).toBe(true);
      await sleep(80);
      ref = copy(img);
      await sync.process(ref, c);
    }
    console.log(`still picture: pipelined vs per-frame mean abs diff ${meanAbs(last.data, ref.data).toFixed(3)}`);
    expect(meanAbs(ref.data, img.data)).toBeGreaterThan(0.5);
    // Not exact: the pipelined frame shows the edit of the previous frame's crop.
    expect(meanAbs(last.data, ref.data)).toBeLessThan(0.8);
  }, SLOW);

  it('a prompt switch keeps frames edited in the old style until an edit in the new one is ready, then never goes back', async () => {
    const img = await readImage(path.join(facesDir, 'ffhq-3.png'));
    await still.process(copy(img), ctx({ kind: 'preset', id: 'sepia' }));
    await sleep(100);
    await still.process(copy(img), ctx({ kind: 'preset', id: 'sepia' }));
    await sleep(100);
    const c = ctx({ kind: 'preset', id: 'pencil-sketch' });
    still.prepare(c);
    const seen: string[] = [];
    for (let i = 0; i < 40 && seen.filter((x) => x === 'pencil_sketch').length < 3; i++) {
      // A frame that arrives during the switch's own run waits for it (up to 200 ms): it goes
      // out in the new style, or in the old one when the run takes longer; never unedited.
      expect((await still.process(copy(img), c)).edited).toBe(true);
      const style = still.lastPrompt!.style;
      seen.push(style);
      if (still.promptSwitch()!.shownAt === null) expect(style).toBe('sepia');
      await sleep(30);
    }
    expect(still.promptSwitch()!.shownAt).not.toBeNull();
    const first = seen.indexOf('pencil_sketch');
    expect(first).toBeGreaterThanOrEqual(0);
    expect(seen.slice(0, first).every((x) => x === 'sepia')).toBe(true);
    expect(seen.slice(first).every((x) => x === 'pencil_sketch')).toBe(true);
  }, SLOW);

  it('while a switch is on its way through the editor, frames reuse the last tracked faces; tracking resumes once it shows', async () => {
    const img = await readImage(path.join(facesDir, 'ffhq-3.png'));
    const a = ctx({ kind: 'preset', id: 'marble' });
    await showFor(img, a);
    const b = ctx({ kind: 'preset', id: 'neon' });
    still.prepare(b);
    const readyAt = still.promptSwitch()!.readyAt!;
    const tracked = still.tracker.framesTracked;
    let held = 0;
    // Frames in the first 300 ms of the switch (the hold lasts at most 350 ms), until it shows.
    while (still.promptSwitch()!.shownAt === null && performance.now() - readyAt < 300) {
      const out = copy(img);
      expect((await still.process(out, b)).edited).toBe(true);
      expect(meanAbs(out.data, img.data)).toBeGreaterThan(0.5);
      held++;
      await sleep(20);
    }
    expect(held).toBeGreaterThanOrEqual(1);
    expect(still.tracker.framesTracked).toBe(tracked);
    for (let i = 0; i < 40 && still.promptSwitch()!.shownAt === null; i++) {
      await sleep(30);
      await still.process(copy(img), b);
    }
    expect(still.lastPrompt?.style).toBe('neon');
    const before = still.tracker.framesTracked;
    await still.process(copy(img), b);
    expect(still.tracker.framesTracked).toBe(before + 1);
  }, SLOW);

  it('a switch\'s run starts beside a run in the old prompt still going, and that run\'s edit never replaces it', async () => {
    const img = await readImage(path.join(facesDir, 'ffhq-3.png'));
    const a = ctx({ kind: 'preset', id: 'watercolour' });
    await showFor(img, a);
    await sleep(300); // the last run in that prompt is done
    // Runs between switches take 1.5 s longer than they compute: the next one is still going
    // (its edit done, not yet handed over, so superseding it cannot stop it) when B is chosen.
    const thread = (still as unknown as { editThread: EditorThread }).editThread;
    const edit = thread.edit.bind(thread);
    thread.edit = async (...x) => {
      const r = await edit(...x);
      await sleep(1500);
      return r;
    };
    const burst = (still as unknown as { burstThread: EditorThread }).burstThread;
    const burstEdit = burst.edit.bind(burst);
    let burstRuns = 0;
    burst.edit = (...x) => {
      burstRuns++;
      return burstEdit(...x);
    };
    const track = still.tracker.track.bind(still.tracker);
    try {
      await still.process(copy(img), a);
      await sleep(100);
      // B is chosen while a frame is on its way through the frame path (tracking, here slowed),
      // as it mostly is on a loaded machine: its run starts then and there.
      still.tracker.track = async (...x) => {
        await sleep(300);
        return track(...x);
      };
      const inFlight = still.process(copy(img), a);
      await sleep(100);
      const b = ctx({ kind: 'preset', id: 'pop-art' });
      still.prepare(b);
      expect(burstRuns).toBe(1);
      const readyAt = still.promptSwitch()!.readyAt!;
      await inFlight;
      still.tracker.track = track;
      for (let i = 0; i < 40 && still.promptSwitch()!.shownAt === null; i++) {
        expect((await still.process(copy(img), b)).edited).toBe(true);
        await sleep(30);
      }
      // Waiting for the stale run would take its 1.5 s.
      expect(still.promptSwitch()!.shownAt! - readyAt).toBeLessThan(1000);
      // The stale run hands over its edit in the old prompt: frames stay in the new one.
      for (const end = performance.now() + 1800; performance.now() < end;) {
        await still.process(copy(img), b);
        expect(still.lastPrompt?.style).toBe('pop_art');
        await sleep(60);
      }
    } finally {
      thread.edit = edit;
      burst.edit = burstEdit;
      still.tracker.track = track;
    }
  }, SLOW);
});

describe('EditorThread', () => {
  it('a superseded run stops at a stage boundary; runs asked for afterwards go through', async () => {
    const t = await EditorThread.start({ threads: 1 });
    try {
      const cam = frontalCamera();
      const input = { image: new Float32Array(3 * EDITOR_SIZE * EDITOR_SIZE).fill(0.4), srcCam: cam, tgtCam: cam, tokens: new Float32Array(8 * 64) };
      const stale = t.edit(input);
      t.supersede();
      await expect(stale).rejects.toBeInstanceOf(SupersededError);
      const next = await t.edit(input);
      expect(next.rgb.length).toBe(3 * EDITOR_SIZE * EDITOR_SIZE);
    } finally {
      await t.close();
    }
  }, SLOW);

  it('runs at the nice value asked for, with its onnxruntime threads (Linux)', async () => {
    const niced = () => readdirSync('/proc/self/task').filter((t) => {
      const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      return st.slice(st.lastIndexOf(')') + 2).split(' ')[16] === '13';
    }).length;
    const before = niced();
    const t = await EditorThread.start({ threads: 2, nice: 13 });
    try {
      // The thread itself and its onnxruntime pool thread.
      expect(niced() - before).toBeGreaterThanOrEqual(2);
      const cam = frontalCamera();
      const out = await t.edit({ image: new Float32Array(3 * EDITOR_SIZE * EDITOR_SIZE).fill(0.4), srcCam: cam, tgtCam: cam, tokens: new Float32Array(8 * 64) });
      expect(out.rgb.length).toBe(3 * EDITOR_SIZE * EDITOR_SIZE);
    } finally {
      await t.close();
    }
  }, SLOW);

  it('fails to start with the loader\'s message when the model is missing', async () => {
    await expect(EditorThread.start({ assetsDir: '/nonexistent-editor-assets' })).rejects.toThrow(/editor model not found/);
  }, SLOW);
});
