/**
 * `createEditorProcessor()`: the 3DPE editor as a FrameProcessor (name 'editor').
 *
 * Per frame: no prompt → unedited ('no prompt'); track faces (FaceTracker, 'eg3d' framing: measured
 * closest to the Python teachers' crops the editor was trained on, mean abs diff 7–18 vs 21–48 of 255
 * for 'ffhq' on ffhq-7/ffhq-4); no face → unedited ('no face'); per face (up to
 * `maxFaces`): aligned 128² crop → editor with the prompt's tokens, source camera from the
 * head pose, target camera from `settings.view`:
 *   - frontalize: the absolute view cameraForView(view.yaw, view.pitch) (0, 0 = facing the camera);
 *   - otherwise yaw = pitch = 0: the source view; the edit is composited back with the selfie
 *     matte and `strength` as blend weight (no colour match: the edit changes colours on purpose);
 *   - otherwise a novel view relative to the head: cameraForView(pose.yaw + view.yaw,
 *     pose.pitch + view.pitch); the re-rendered crop (portrait + background) is pasted over the
 *     face's crop square with a feathered border, and `strength` scales the prompt tokens.
 * Prompts: text (a known phrasing's tokens, else MiniLM → learned projection, see
 * portrait-editor.ts), preset (a style id, or an adapted style in assets/editor/styles/ whose
 * tokens AND norm affine are fed to the graph), image (the reference the server decoded,
 * `ctx.reference`, or `resolveImage` → image-prompt encoder).
 *
 * With `pipeline` (what calls use) the editor runs on its own thread (editor-thread.ts) and each
 * frame is composited with the newest finished edit of its face at the face's current crop;
 * without it (CLI, eval) every frame waits for its own edit. A pipelined frame path that cannot
 * keep up (OVERLOAD_MS) tracks every other frame rather than fall behind the camera.
 *
 * Prompt switches never wait on the frame path: `prepare(ctx)` (called by the filter worker
 * the moment settings change) or the first frame that sees a new prompt starts encoding it in
 * the background, frames keep the previous style meanwhile, and the first frame after the
 * tokens are ready uses them. Tokens are cached per prompt; every preset (bank styles and
 * adapted styles) is in the cache from init(). `promptSwitch()` tells when the last switch's
 * tokens became ready and when the first frame made with them was done.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { FilterSettings, Prompt } from '@portrait-edit/shared';
import type { Frame, FrameProcessor, ProcessContext, ProcessResult } from '../frame.js';
import { FaceTracker, type Box, type TrackedFace, type TrackerOptions } from '../tracking/face-tracker.js';
import { boxIoU } from '../tracking/detector.js';
import { alignFaceFloat } from '../tracking/alignment.js';
import { cameraForView } from '../tracking/head-pose.js';
import { MESH_POINTS } from '../tracking/mesh-indices.js';
import { compositeFace } from '../tracking/composite.js';
import { SelfieMatte, MATTE_SIZE } from '../tracking/matte.js';
import { PortraitEditor, EDITOR_SIZE, chwToFrame, hwcToCHW, type EditInput, type PortraitEditorOptions } from './portrait-editor.js';
import { normalizeText } from './prompt-bank.js';
import { EditorThread } from './editor-thread.js';
import { SupersededError } from './staged-editor.js';
import { MeshDepth, loadMeshTriangles, meshInCrop } from './mesh-depth.js';

export interface EditorProcessorOptions extends PortraitEditorOptions {
  maxFaces?: number;
  tracker?: Partial<TrackerOptions>;
  /** Run the selfie matte for the source-view composite (default true). */
  matte?: boolean;
  /** Re-run the matte every N frames per face (it lives in crop space, so it follows the face); default 3. */
  matteEvery?: number;
  /** Resolve an image prompt's upload id to the reference image when the context carries none. */
  resolveImage?: (uploadId: string) => Promise<Frame | null>;
  /** Reuse an already loaded editor. */
  editor?: PortraitEditor;
  /**
   * Run the editor beside the frame path (default false: every frame waits for its own edit).
   * On: each frame is tracked and composited at once with the newest finished edit of its face,
   * placed at the face's current crop, while the editor works on a newer crop. Output fps is
   * then bounded by tracking + compositing, not by the editor; the edit lags the input by one
   * editor run (~50–100 ms), which on 2 cores is what lets a call run at camera rate. Only the
   * first frame of a face waits for its edit.
   */
  pipeline?: boolean;
  /** See OVERLOAD_MS (the default); Infinity tracks every frame whatever it costs. */
  overloadMs?: number;
  /** Nice value of the pipelined editor thread (see STEADY_EDIT_NICE, the default; 0: as the frame path). */
  editNice?: number;
  /** onnxruntime threads of the thread that runs prompt switches (pipeline mode); default max(2, threads). */
  burstThreads?: number;
}

export interface EditorTimings {
  track: number;
  align: number;
  editor: number;
  matte: number;
  composite: number;
}

/** Prompt tokens ready for the graph, with what they stand for. */
export interface PromptTokens {
  tokens: Float32Array;
  norm?: Float32Array;
  style: string;
  text: string;
  how: string;
}

/**
 * The last prompt switch, times in this process's performance.now() ms. `readyAt` equals
 * `requestedAt` for a cached prompt (a preset, or one used before).
 */
export interface PromptSwitch {
  /** Increments with every switch. */
  seq: number;
  /** The prompt's cache key ('text:…', 'preset:…', 'image:…'). */
  key: string;
  requestedAt: number;
  readyAt: number | null;
  /** When the first frame edited with the new tokens left process(). */
  shownAt: number | null;
  cached: boolean;
  /** Set when the prompt cannot be used (not understood, unknown preset, no reference). */
  failed: string | null;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const strength = (s: FilterSettings): number => clamp(s.strength, 0, 1);

/** One face's crop on its way into the editor. */
interface EditJob {
  faceId: number;
  image: Float32Array;
  srcCam: number[];
  tgtCam: number[];
  tokens: Float32Array;
  norm?: Float32Array;
  /** The face mesh's depth at tgtCam (novel views only). */
  meshDepth?: Float32Array;
  novel: boolean;
  /** Novel views scale the tokens by it (the source view blends with it instead). */
  strength: number;
  /** The prompt (cache key) the tokens belong to. */
  key: string;
  prompt: { style: string; text: string; how: string };
}

const promptInfo = (t: PromptTokens) => ({ style: t.style, text: t.text, how: t.how });

/**
 * The tokens a job feeds the graph: novel views scale them by the strength (the source view
 * blends with it instead). Scaled tokens are a fresh array: a pipelined edit may still be
 * reading the previous one.
 */
function jobTokens(tokens: Float32Array, novel: boolean, k: number): Float32Array {
  return novel && k < 1 ? tokens.map((v) => v * k) : tokens;
}

/** The same crops and cameras with another prompt's tokens. */
function retoken(jobs: EditJob[], cur: { key: string; tok: PromptTokens }): EditJob[] {
  return jobs.map((j) => ({ ...j, tokens: jobTokens(cur.tok.tokens, j.novel, j.strength), norm: cur.tok.norm, key: cur.key, prompt: promptInfo(cur.tok) }));
}

/** One face's edit, kept until the next one of the same face is ready. */
interface FaceEdit {
  rgb: Frame;
  novel: boolean;
  key: string;
  prompt: { style: string; text: string; how: string };
}
const PROMPT_CACHE_MAX = 64;
/**
 * While a prompt switch is on its way through the editor (pipeline mode), frames reuse the last
 * tracked faces and mattes for at most this long: the editor gets the cores tracking would take,
 * and the frame that picks up the new edit goes out without a tracking pass first. Measured in
 * the switch bench: tracking a frame under load takes 60–90 ms, which every switch waited for.
 */
const SWITCH_TRACK_HOLD_MS = 350;
/**
 * A held frame that arrives while the switch's own run is going waits for it (at most this long)
 * and goes out with the new edit, rather than in the old style with the switch left to the next
 * frame, up to a frame interval later (67 ms at 15 fps). The loop drops, never queues, frames
 * meanwhile.
 */
const SWITCH_WAIT_MS = 200;
/**
 * A prompt being encoded (free text through MiniLM: 20–200 ms) holds new editor runs with the
 * old tokens for at most this long, so the editor is free when the new tokens arrive.
 */
const ENCODE_HOLD_MS = 400;
/**
 * A tracked frame that took longer than this (tracking, matte and compositing, wall time) means
 * the frame path cannot keep up with the camera: its cores are taken by the editor, the codecs
 * and, on a small machine, the browsers of the call. For OVERLOAD_HOLD_MS, every other frame then
 * skips tracking and is composited at the last tracked faces, and the mattes are renewed on those
 * frames rather than tracked ones: no frame pays for both. Measured in the prompts e2e on
 * 2 cores: a frame that does both (≈50 ms of CPU) is the one that waits 250–400 ms for the cores
 * and shows as a freeze at the receiver. With cores to spare no frame takes this long and every
 * frame is tracked.
 */
const OVERLOAD_MS = 80;
/**
 * How long the frame path stays in that mode after its last tracked frame over OVERLOAD_MS. On a
 * loaded machine some tracked frames still come in under it; without a hold each of them sent the
 * path back to tracking and a matte on one frame (traced: 15–25 such frames a run in the prompts
 * e2e, each 150–350 ms there).
 */
const OVERLOAD_HOLD_MS = 2000;
/**
 * The nice value of the editor thread's runs between prompt switches (pipeline mode). They fill
 * the cores the frame path leaves: a frame never waits behind one, while runs that bring a
 * switch to the screen (on a thread of their own) keep the frame path's priority. Measured in the
 * prompts e2e on 2 cores (5 runs each): longest gap at the receiver 300–433 ms at 10 against
 * 300–567 at 0, the last switch visible 133–225 ms against 208–501, with as many edits (64–81
 * against 69–84 a run): the frame path's share was the bottleneck, not the editor's.
 */
const STEADY_EDIT_NICE = 10;
/** A failed prompt (say, an adapted style still being trained) is tried again after this. */
const FAILURE_RETRY_MS = 3000;

/** Cache key of a prompt; text is normalised the way the prompt encoders see it. */
export function promptKey(p: Prompt): string {
  if (p.kind === 'text') return `text:${normalizeText(p.text)}`;
  if (p.kind === 'preset') return `preset:${p.id}`;
  return `image:${p.uploadId}`;
}

export class EditorProcessor implements FrameProcessor {
  readonly name = 'editor';
  editor: PortraitEditor | null = null;
  readonly tracker: FaceTracker;
  private readonly matte: SelfieMatte | null;
  private readonly mattes = new Map<number, { matte: Float32Array; age: number }>();
  /** Encoded prompts by key; insertion order doubles as LRU order. */
  private readonly cache = new Map<string, PromptTokens>();
  /** Prompts that could not be encoded, with when; tried again after FAILURE_RETRY_MS. */
  private readonly failures = new Map<string, { reason: string; at: number }>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Tokens the frame path uses now, and which prompt they belong to. */
  private current: { key: string; tok: PromptTokens } | null = null;
  /** Whether the last frame went out edited with `current`. */
  private styleOnScreen = false;
  private switchInfo: PromptSwitch | null = null;
  private seq = 0;
  /** The source-view blend weight (strength), as the 1×1 alpha compositeFace takes. */
  private readonly alpha = new Float32Array(1);
  /** The newest edit of each face (by tracker id), composited until the next one is ready. */
  private readonly results = new Map<number, FaceEdit>();
  /** Where each face of `results` was when its edit was last composited. */
  private readonly shownBox = new Map<number, Box>();
  /** The editor run in progress (pipeline mode), and the prompt it edits with. */
  private job: Promise<void> | null = null;
  private jobKey: string | null = null;
  /** The crops of the last run started (pipeline mode), for a prompt switch that finds the editor idle. */
  private lastJobs: EditJob[] | null = null;
  /** The prompt of the edits last composited (pipeline mode). */
  private shownKey: string | null = null;
  /** The last tracked faces and their frame's size, reused while a switch is under way. */
  private lastFaces: TrackedFace[] | null = null;
  private lastFacesSize = { width: 0, height: 0 };
  /** Until when the frame path counts as overloaded (OVERLOAD_MS), and whether the last frame skipped tracking. */
  private overloadedUntil = 0;
  private lastUntracked = false;
  private untrackedFrames = 0;
  /** An editor failure from a pipelined run, thrown by the next frame (which then goes out unedited). */
  private editError: Error | null = null;
  private editsDone = 0;
  /** The editor thread frames are edited on in pipeline mode (niced: see STEADY_EDIT_NICE). */
  private editThread: EditorThread | null = null;
  /** The editor thread of runs that bring a prompt switch to the screen (pipeline mode). */
  private burstThread: EditorThread | null = null;
  /** Novel views: the tracked mesh's depth at the asked view (null until the editor is loaded). */
  private meshDepth: MeshDepth | null = null;
  private readonly meshCrop = new Float32Array(MESH_POINTS * 3);
  /** The last face crop (CHW) and its camera, for thumbnails on the user's own face. */
  private lastFace: { image: Float32Array; camera: number[] } | null = null;
  /** Thumbnail requests waiting for the next frame with a face. */
  private faceWaiters: (() => void)[] = [];
  private initialised: Promise<void> | null = null;
  /** Timings of the last processed frame (ms). */
  lastTimings: EditorTimings = { track: 0, align: 0, editor: 0, matte: 0, composite: 0 };
  lastPrompt: { style: string; text: string; how: string } | null = null;

  private readonly overloadMs: number;

  constructor(private readonly opts: EditorProcessorOptions = {}) {
    this.overloadMs = opts.overloadMs ?? OVERLOAD_MS;
    this.tracker = new FaceTracker({ maxFaces: opts.maxFaces ?? 2, ...opts.tracker, framing: 'eg3d' });
    this.matte = opts.matte === false ? null : new SelfieMatte();
    this.editor = opts.editor ?? null;
  }

  init(): Promise<void> {
    this.initialised ??= this.load();
    return this.initialised;
  }

  private async load(): Promise<void> {
    if (!this.editor) this.editor = await PortraitEditor.load(this.opts);
    this.meshDepth = new MeshDepth(loadMeshTriangles(this.editor.assetsDir));
    // Pipelined frames need the editor off this thread (onnxruntime-node runs on the caller's).
    if (this.opts.pipeline) {
      // Switch runs get both cores: the frame path holds its tracking meanwhile (switchUnderWay).
      // On a thread of their own, so that one starts while a stale run finishes its stage.
      const burstThreads = this.opts.burstThreads ?? Math.max(2, this.opts.threads ?? 2);
      const assetsDir = this.editor.assetsDir;
      [this.editThread, this.burstThread] = await Promise.all([
        EditorThread.start({ assetsDir, threads: this.opts.threads, nice: this.opts.editNice ?? STEADY_EDIT_NICE }),
        EditorThread.start({ assetsDir, threads: burstThreads }),
      ]);
    }
    await this.tracker.init();
    await this.matte?.init();
    const ed = this.editor;
    // Presets cost nothing to keep: their tokens are precomputed (bank) or tiny files (adapted).
    for (const style of ed.bank.styles) {
      const m = ed.bank.styleTokens(style);
      if (m) this.remember(`preset:${style.replace(/_/g, '-')}`, { tokens: m.tokens, style: m.style, text: m.text, how: m.how });
    }
    for (const name of adaptedStyleNames(ed.assetsDir)) {
      try {
        const a = ed.adaptedStyle(name);
        if (a) this.remember(`preset:${name}`, { ...a, style: name, text: name, how: 'adapted' });
      } catch {
        // A style made for another editor: listed as unknown when asked for.
      }
    }
    // First runs of the text and image encoders pay onnxruntime's set-up; pay it here.
    if (ed.hasTextEncoder) await ed.encodeText('warm up the text encoder').catch(() => null);
    const grey: Frame = { width: EDITOR_SIZE, height: EDITOR_SIZE, data: new Uint8Array(3 * EDITOR_SIZE * EDITOR_SIZE).fill(128), timestampMs: 0 };
    await ed.imageTokens(grey).catch(() => null);
  }

  private remember(key: string, tok: PromptTokens): void {
    this.cache.delete(key);
    this.cache.set(key, tok);
    if (this.cache.size > PROMPT_CACHE_MAX) {
      // Oldest first; never the tokens on screen.
      for (const k of this.cache.keys()) {
        if (k !== this.current?.key && !k.startsWith('preset:')) {
          this.cache.delete(k);
          break;
        }
      }
    }
  }

  /**
   * Settings changed: start encoding the new prompt now, off the frame path. Frames keep the
   * previous style until the tokens are ready. Safe to call often; a prompt is encoded once.
   */
  prepare(ctx: ProcessContext): void {
    const p = ctx.settings?.prompt;
    if (!p) return;
    const key = promptKey(p);
    this.noteRequest(key);
    const ready = this.cache.get(key);
    if (ready) this.adopt(key, ready);
    else this.request(key, p, ctx.reference);
  }

  /**
   * Pipeline mode: the newest requested prompt's tokens are ready, so the editor takes them up
   * now rather than when the next frame looks (up to a frame interval later). Only while a style
   * is on screen; the first prompt is the frame path's (it waits for its first edit).
   */
  private adopt(key: string, tok: PromptTokens): void {
    if (!this.opts.pipeline || this.switchInfo?.key !== key || !this.current || this.current.key === key) return;
    this.takeUp(key, tok);
  }

  /**
   * `key`'s tokens become the frame path's. In pipeline mode with a style on screen, a run in
   * them starts now on the last crops, beside a stale run (dropStaleRun) rather than after it.
   * On screen = `shownKey`, not `styleOnScreen`: that is false while a frame is being processed,
   * which on a loaded machine is most of the time, and the switch then waited for the run in
   * progress.
   */
  private takeUp(key: string, tok: PromptTokens): void {
    this.current = { key, tok };
    this.dropStaleRun();
    if (!this.opts.pipeline || !this.editThread || this.editError || this.shownKey === null || !this.lastJobs) return;
    if (!this.job || this.jobKey !== key) this.startEdits(retoken(this.lastJobs, this.current), this.lastTimings);
  }

  /**
   * The run in progress edits with a prompt no longer current: it stops at its next stage
   * boundary (staged-editor.ts). A run in the current prompt starts beside it, on the burst
   * thread (takeUp, editFaces); the stale one's edit, should it finish, never replaces it.
   */
  private dropStaleRun(): void {
    if (this.job && this.jobKey !== this.current?.key) {
      this.editThread?.supersede();
      this.burstThread?.supersede();
    }
  }

  private noteRequest(key: string): void {
    if (this.switchInfo?.key === key && this.switchInfo.shownAt === null) return;
    if (this.current?.key === key) return;
    const cached = this.cache.has(key);
    const now = performance.now();
    this.switchInfo = { seq: ++this.seq, key, requestedAt: now, readyAt: cached ? now : null, shownAt: null, cached, failed: null };
  }

  private failure(key: string): string | null {
    const f = this.failures.get(key);
    if (!f) return null;
    if (performance.now() - f.at < FAILURE_RETRY_MS) return f.reason;
    this.failures.delete(key);
    return null;
  }

  private request(key: string, p: Prompt, reference: Frame | undefined): void {
    if (this.cache.has(key) || this.inFlight.has(key) || this.failure(key) !== null) return;
    const job = this.init()
      .then(() => this.encode(p, reference))
      .then((r) => {
        if ('reason' in r) {
          if (this.failures.size > PROMPT_CACHE_MAX) this.failures.clear();
          this.failures.set(key, { reason: r.reason, at: performance.now() });
          if (this.switchInfo?.key === key) this.switchInfo.failed = r.reason;
        } else {
          this.remember(key, r);
          if (this.switchInfo?.key === key && this.switchInfo.readyAt === null) this.switchInfo.readyAt = performance.now();
          this.adopt(key, r);
        }
      })
      .catch((err: unknown) => {
        const reason = `prompt encoder failed: ${err instanceof Error ? err.message : String(err)}`;
        this.failures.set(key, { reason, at: performance.now() });
        if (this.switchInfo?.key === key) this.switchInfo.failed = reason;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, job);
  }

  private async encode(prompt: Prompt, reference: Frame | undefined): Promise<PromptTokens | { reason: string }> {
    const ed = this.editor!;
    if (prompt.kind === 'text') {
      const m = await ed.textTokens(prompt.text);
      if (!m) return { reason: 'prompt not understood' };
      return { tokens: m.tokens, style: m.style, text: m.text, how: m.how };
    }
    if (prompt.kind === 'preset') {
      // Not in the cache from init(): an adapted style added since.
      const adapted = ed.adaptedStyle(prompt.id);
      if (!adapted) return { reason: 'unknown preset' };
      return { ...adapted, style: prompt.id, text: prompt.id, how: 'adapted' };
    }
    const ref = reference ?? (this.opts.resolveImage ? await this.opts.resolveImage(prompt.uploadId) : null);
    if (!ref) return { reason: 'image prompt not found' };
    return { tokens: await ed.imageTokens(ref), style: 'image', text: prompt.uploadId, how: 'image' };
  }

  /**
   * Tokens for this frame, with the prompt they belong to: the prompt's when ready, else the
   * previous prompt's (or a reason). The key travels with the tokens because `current` can move
   * on (prepare → adopt) while this frame is still being tracked.
   */
  private async tokensFor(prompt: Prompt, ctx: ProcessContext): Promise<{ key: string; tok: PromptTokens } | { reason: string }> {
    const key = promptKey(prompt);
    if (this.current?.key === key) return this.current;
    this.noteRequest(key);
    const ready = this.cache.get(key);
    if (ready) {
      this.takeUp(key, ready);
      return this.current!;
    }
    this.request(key, prompt, ctx.reference);
    const failed = this.failure(key);
    if (failed !== null) {
      this.current = null;
      return { reason: failed };
    }
    if (this.current && this.styleOnScreen) return this.current;
    // No style on screen to keep showing (first prompt, or the last frame went out unedited):
    // one short wait for the new one beats frames in a style nobody saw.
    await this.inFlight.get(key);
    return this.tokensFor(prompt, ctx);
  }

  /** The last prompt switch (see PromptSwitch); null before the first. */
  promptSwitch(): PromptSwitch | null {
    return this.switchInfo;
  }

  async process(frame: Frame, ctx: ProcessContext): Promise<ProcessResult> {
    const s: FilterSettings = ctx.settings;
    if (!s.prompt) {
      this.current = null;
      this.styleOnScreen = false;
      // Edits made before the prompt was cleared must not flash up when one is set again.
      this.results.clear();
      this.shownBox.clear();
      this.shownKey = null;
      // Nothing to edit, but a thumbnail request wants the user's face from this frame.
      if (this.faceWaiters.length) await this.captureFace(frame);
      return { frame, edited: false, reason: 'no prompt' };
    }
    await this.init();
    const tok = await this.tokensFor(s.prompt, ctx);
    // Unedited from here on, unless a face is edited below.
    this.styleOnScreen = false;
    if ('reason' in tok) return { frame, edited: false, reason: tok.reason };
    const t0 = performance.now();
    const held = this.switchUnderWay(frame, t0);
    if (held && this.job && this.jobKey === this.current?.key) await this.waitForRun(SWITCH_WAIT_MS);
    const reused = held ?? this.overloaded(frame);
    const tTrack = performance.now();
    const faces = reused ?? (await this.tracker.track(frame)).faces;
    const tm: EditorTimings = { track: performance.now() - tTrack, align: 0, editor: 0, matte: 0, composite: 0 };
    this.lastTimings = tm;
    this.lastUntracked = reused !== null;
    if (reused) this.untrackedFrames++;
    if (this.opts.pipeline && !reused) {
      this.lastFaces = faces.length ? faces : null;
      this.lastFacesSize.width = frame.width;
      this.lastFacesSize.height = frame.height;
    }
    try {
      return await this.editFaces(frame, faces, tok, s, tm, held !== null, reused !== null, t0);
    } finally {
      const end = performance.now();
      if (!reused && end - t0 > this.overloadMs) this.overloadedUntil = end + OVERLOAD_HOLD_MS;
    }
  }

  /**
   * The rest of process() once the faces are known. `held`: a switch is under way (mattes are
   * kept whatever their age); `untracked`: the faces come from an earlier frame.
   */
  private async editFaces(frame: Frame, faces: TrackedFace[], tok: { key: string; tok: PromptTokens }, s: FilterSettings, tm: EditorTimings, held: boolean, untracked: boolean, t0: number): Promise<ProcessResult> {
    if (faces.length === 0) return { frame, edited: false, reason: 'no face' };
    this.throwEditError();
    if (!this.opts.pipeline) {
      await this.runEdits(this.planEdits(frame, faces, tok, s, tm), tm);
    } else {
      // The editor runs beside the frame path; this frame and the next ones are composited with
      // the newest edit (see `pipeline`). Crops are taken now: the frame's buffer is reused as
      // soon as this call returns.
      // Not from reused faces: their crops are a frame or more old on this frame's pixels.
      // A run in a stale prompt is being superseded: this one starts beside it.
      // Only in the current prompt: adopt() may have moved on while this frame was tracked.
      if ((!this.job || this.jobKey !== tok.key) && tok.key === this.current?.key && !untracked && !this.encodingSwitch(t0)) this.startEdits(this.planEdits(frame, faces, tok, s, tm), tm);
      if (this.missingEdit(faces)) this.reacquired(faces);
      if (this.missingEdit(faces)) {
        // A face with no edit yet (the first frame, or a face that just appeared): wait for it.
        await this.job;
        if (this.missingEdit(faces)) {
          this.startEdits(this.planEdits(frame, faces, tok, s, tm), tm);
          await this.job;
        }
      }
    }
    let composited = 0;
    for (const face of faces) {
      const r = this.results.get(face.id);
      if (!r) continue;
      await this.compositeEdit(frame, face, r, strength(s), tm, held ? 'keep' : !untracked && t0 < this.overloadedUntil ? 'late' : 'due');
      this.shownBox.set(face.id, face.box);
      composited++;
      this.shownKey = r.key;
      this.lastPrompt = r.prompt;
      const sw = this.switchInfo;
      if (sw && sw.shownAt === null && sw.key === r.key && sw.key === this.current?.key) {
        sw.shownAt = performance.now();
        if (sw.readyAt === null) sw.readyAt = sw.requestedAt;
      }
    }
    if (composited === 0) {
      this.throwEditError();
      return { frame, edited: false, reason: 'no face' };
    }
    this.styleOnScreen = true;
    if (this.results.size > 2 * faces.length + 4) {
      // Faces that left the picture.
      const live = new Set(faces.map((f) => f.id));
      for (const id of this.results.keys()) if (!live.has(id)) this.forget(id);
    }
    return { frame, edited: true };
  }

  /**
   * The last tracked faces, when this frame may skip tracking: a prompt switch is on its way
   * through the editor (ready, not yet on screen, still the current prompt, a run under way or
   * its edit done), it became ready less than SWITCH_TRACK_HOLD_MS ago, and the frame has the
   * size the faces were tracked at.
   * Else null: track this frame.
   */
  private switchUnderWay(frame: Frame, now: number): TrackedFace[] | null {
    const last = this.lastFacesFor(frame);
    const sw = this.switchInfo;
    if (!last || !sw || sw.readyAt === null || sw.shownAt !== null) return null;
    if (this.current?.key !== sw.key || this.shownKey === sw.key || now - sw.readyAt > SWITCH_TRACK_HOLD_MS) return null;
    // Only while the editor is at it (a run in progress, or its edit waiting to be shown): a
    // held frame starts no run, and the switch must not wait for the hold to end.
    return this.job || this.hasEditOf(sw.key) ? last : null;
  }

  /**
   * The last tracked faces, when the frame path is overloaded (a tracked frame took longer than
   * OVERLOAD_MS within OVERLOAD_HOLD_MS) and the last frame was tracked (so at most every other
   * frame skips tracking), at the same frame size; else null.
   */
  private overloaded(frame: Frame): TrackedFace[] | null {
    if (!this.opts.pipeline || this.lastUntracked || performance.now() >= this.overloadedUntil) return null;
    return this.lastFacesFor(frame);
  }

  /** The last tracked faces if they were tracked on a frame of this one's size, else null. */
  private lastFacesFor(frame: Frame): TrackedFace[] | null {
    return this.lastFacesSize.width === frame.width && this.lastFacesSize.height === frame.height ? this.lastFaces : null;
  }

  /** Frames composited at an earlier frame's faces because the frame path was overloaded or a switch under way. */
  get untrackedCount(): number {
    return this.untrackedFrames;
  }

  /** The editor run in progress, or `ms`, whichever ends first (once per switch: allocations are fine). */
  private async waitForRun(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.job, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  private hasEditOf(key: string): boolean {
    for (const r of this.results.values()) if (r.key === key) return true;
    return false;
  }

  /** A new prompt is being encoded (see ENCODE_HOLD_MS): no new run with the old tokens. */
  private encodingSwitch(now: number): boolean {
    const sw = this.switchInfo;
    return !!sw && sw.readyAt === null && sw.failed === null && this.inFlight.has(sw.key) && now - sw.requestedAt < ENCODE_HOLD_MS;
  }

  /** A pipelined run failed: this frame goes out unedited with its error (once). */
  private throwEditError(): void {
    const err = this.editError;
    if (!err) return;
    this.editError = null;
    throw err;
  }

  /**
   * A face without an edit where a face that is gone from this frame was last shown is the same
   * person, tracked anew (the tracker lost them for a frame: a fast turn, a hand, motion blur):
   * it takes over that face's edit and matte rather than wait for an editor run of its own, which
   * on a loaded machine stood the whole stream still for one or two runs (100–600 ms).
   */
  private reacquired(faces: TrackedFace[]): void {
    for (const f of faces) {
      if (this.results.has(f.id)) continue;
      let best = -1, bestIoU = 0.3;
      for (const [id, box] of this.shownBox) {
        if (faces.some((g) => g.id === id)) continue;
        const iou = boxIoU(box, f.box);
        if (iou > bestIoU) [best, bestIoU] = [id, iou];
      }
      const r = this.results.get(best);
      if (!r) continue;
      this.results.set(f.id, r);
      const m = this.mattes.get(best);
      if (m) this.mattes.set(f.id, m);
      this.forget(best);
    }
  }

  private forget(id: number): void {
    this.results.delete(id);
    this.shownBox.delete(id);
    this.mattes.delete(id);
  }

  private missingEdit(faces: TrackedFace[]): boolean {
    for (const f of faces) if (!this.results.has(f.id)) return true;
    return false;
  }

  /** Starts a pipelined editor run; a failure is thrown by the next frame. */
  private startEdits(jobs: EditJob[], tm: EditorTimings): void {
    this.lastJobs = jobs;
    this.jobKey = jobs[0]?.key ?? null;
    const job: Promise<void> = this.runEdits(jobs, tm)
      .catch((err: unknown) => {
        // A superseded run (dropStaleRun) is no failure: the run in the new prompt follows.
        if (!(err instanceof SupersededError)) this.editError = err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => {
        if (this.job !== job) return;
        this.job = null;
        // The prompt changed while this run used the old one and no run in the new one started
        // (takeUp starts one at once only with a style on screen): go again on the same crops
        // with the new tokens now, rather than at the next frame.
        const cur = this.current;
        if (cur && jobs.length > 0 && jobs[0].key !== cur.key && !this.editError && this.editThread) this.startEdits(retoken(jobs, cur), tm);
      });
    this.job = job;
  }

  /** Aligned crops and cameras of this frame's faces, ready for the editor. */
  private planEdits(frame: Frame, faces: TrackedFace[], cur: { key: string; tok: PromptTokens }, s: FilterSettings, tm: EditorTimings): EditJob[] {
    const { key, tok } = cur;
    const v = s.view;
    const novel = v.frontalize || v.yaw !== 0 || v.pitch !== 0;
    const k = strength(s);
    const tokens = jobTokens(tok.tokens, novel, k);
    const prompt = promptInfo(tok);
    const out: EditJob[] = [];
    for (let fi = 0; fi < faces.length; fi++) {
      const face = faces[fi];
      const t = performance.now();
      const img = hwcToCHW(alignFaceFloat(frame, face.crop, EDITOR_SIZE, 1 / 255, 0), EDITOR_SIZE);
      if (fi === 0) this.setLastFace(img, face.camera);
      tm.align += performance.now() - t;
      const tgt = !novel ? face.camera
        : v.frontalize ? cameraForView(v.yaw, v.pitch)
          : cameraForView(clamp(face.pose.yaw + v.yaw, -45, 45), clamp(face.pose.pitch + v.pitch, -30, 30));
      const meshDepth = novel && this.meshDepth
        ? this.meshDepth.compute(meshInCrop(face.mesh, face.crop, EDITOR_SIZE, this.meshCrop), EDITOR_SIZE, face.camera, tgt)
        : undefined;
      out.push({ faceId: face.id, image: img, srcCam: face.camera, tgtCam: tgt, tokens, norm: tok.norm, meshDepth, novel, strength: k, key, prompt });
    }
    return out;
  }

  /**
   * Runs the editor on each planned face and keeps the results by face id. A run that brings
   * a prompt switch to the screen goes on the editor thread's burst session.
   */
  private async runEdits(jobs: EditJob[], tm: EditorTimings): Promise<void> {
    const t = performance.now();
    const sw = this.switchInfo;
    const burst = !!sw && sw.shownAt === null && sw.readyAt !== null && jobs[0]?.key === sw.key;
    for (const j of jobs) {
      const rgb = await this.editOne({ image: j.image, srcCam: j.srcCam, tgtCam: j.tgtCam, tokens: j.tokens, norm: j.norm, meshDepth: j.meshDepth }, burst ? this.burstThread : this.editThread);
      // A stale run that finished after the run that replaced it.
      const cur = this.current?.key;
      if (cur !== undefined && j.key !== cur && this.results.get(j.faceId)?.key === cur) continue;
      this.results.set(j.faceId, { rgb, novel: j.novel, key: j.key, prompt: j.prompt });
    }
    tm.editor += performance.now() - t;
    this.editsDone += jobs.length;
  }

  /**
   * One editor run as an RGB24 EDITOR_SIZE² frame: on `thread` (the editor thread when
   * pipelined, so it never blocks the frame path), else on this thread's session.
   */
  private async editOne(input: EditInput, thread = this.editThread): Promise<Frame> {
    if (thread) return { width: EDITOR_SIZE, height: EDITOR_SIZE, data: (await thread.edit(input)).rgb, timestampMs: 0 };
    return chwToFrame((await this.editor!.edit(input)).rgb, EDITOR_SIZE);
  }

  /**
   * `mattes`: when the face's last matte is renewed: 'due' once it is `matteEvery` frames old,
   * 'late' at twice that (a tracked frame of an overloaded frame path: the next, untracked one
   * renews it), 'keep' never (a switch is under way).
   */
  private async compositeEdit(frame: Frame, face: TrackedFace, r: FaceEdit, k: number, tm: EditorTimings, mattes: 'due' | 'late' | 'keep'): Promise<void> {
    let t: number;
    if (!r.novel) {
      let matte: Float32Array | undefined;
      if (this.matte) {
        const cached = this.mattes.get(face.id);
        const every = this.opts.matteEvery ?? 3;
        if (cached && (mattes === 'keep' || cached.age < (mattes === 'late' ? 2 * every : every))) {
          cached.age++;
          matte = cached.matte;
        } else {
          t = performance.now();
          matte = await this.matte.matteFromCrop(alignFaceFloat(frame, face.crop, MATTE_SIZE, 1 / 255, 0));
          tm.matte += performance.now() - t;
          if (this.mattes.size > 16) this.mattes.clear();
          this.mattes.set(face.id, { matte, age: 1 });
        }
      }
      t = performance.now();
      this.alpha[0] = k;
      compositeFace(frame, r.rgb, face.crop, { matte, alpha: this.alpha, colorMatch: 0 });
    } else {
      t = performance.now();
      compositeFace(frame, r.rgb, face.crop, { feather: 0.04, colorMatch: 0 });
    }
    tm.composite += performance.now() - t;
  }

  /** Editor runs finished since creation (one per face edited). */
  get editCount(): number {
    return this.editsDone;
  }

  private setLastFace(image: Float32Array, camera: number[]): void {
    this.lastFace = { image, camera };
    if (this.faceWaiters.length) for (const w of this.faceWaiters.splice(0)) w();
  }

  private async captureFace(frame: Frame): Promise<void> {
    await this.init();
    const tr = await this.tracker.track(frame);
    const face = tr.faces[0];
    if (face) this.setLastFace(hwcToCHW(alignFaceFloat(frame, face.crop, EDITOR_SIZE, 1 / 255, 0), EDITOR_SIZE), face.camera);
  }

  /**
   * Each preset applied by the editor to the last face it saw (the user's own face, not test
   * data), at the source view, as 96² JPEG data URLs (a few KB each). Null before any face was
   * seen. Runs beside the frame path (the editor session takes concurrent runs), one preset at a
   * time and paced, so that frames keep flowing meanwhile.
   */
  async presetThumbnails(ids: string[], size = 96): Promise<Record<string, string> | null> {
    await this.init();
    // The face in the next frame (the user as they are now); the last one seen if none comes.
    await new Promise<void>((resolve) => {
      const waiter = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.faceWaiters = this.faceWaiters.filter((w) => w !== waiter);
        resolve();
      }, 3000);
      this.faceWaiters.push(waiter);
    });
    const face = this.lastFace;
    if (!face) return null;
    const { default: sharp } = await import('sharp');
    const out: Record<string, string> = {};
    for (const id of ids) {
      const tok = this.cache.get(`preset:${id}`);
      if (!tok) continue;
      // One preset at a time with a pause between: the live frames share these cores.
      await new Promise((r) => setTimeout(r, 40));
      // On this thread's session: the editor thread is kept busy by the frames, and queued
      // behind them 14 previews took longer than the panel waits (measured: timed out).
      const f = await this.editOne({ image: face.image, srcCam: face.camera, tgtCam: face.camera, tokens: tok.tokens, norm: tok.norm }, null);
      const jpeg = await sharp(Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), { raw: { width: f.width, height: f.height, channels: 3 } })
        .resize(size, size)
        .jpeg({ quality: 70 })
        .toBuffer();
      out[id] = `data:image/jpeg;base64,${jpeg.toString('base64')}`;
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([this.editThread?.close(), this.burstThread?.close()]);
    this.editThread = null;
    this.burstThread = null;
    await this.editor?.close();
    this.editor = null;
  }
}

function adaptedStyleNames(assetsDir: string): string[] {
  try {
    return readdirSync(path.join(assetsDir, 'styles'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .filter((n) => /^[a-z0-9-]{1,64}$/.test(n));
  } catch {
    return [];
  }
}

/** The 3DPE editor FrameProcessor ('editor'), models loaded and warmed. */
export async function createEditorProcessor(opts: EditorProcessorOptions = {}): Promise<EditorProcessor> {
  const p = new EditorProcessor(opts);
  await p.init();
  return p;
}
