/**
 * The trained 3DPE editor (models/assets/editor/editor.onnx, trained by
 * models/training/pe_editor) on onnxruntime-node, CPU execution provider.
 *
 * Graph: image (1,3,256,256) in [0,1] + src_cam (1,25) + tgt_cam (1,25) + tokens (1,K,D) +
 * norm (1,NORM) + mesh_depth (1,1,32,32) → rgb (1,3,256,256) in [0,1] at tgt_cam, depth
 * (1,1,32,32). A novel view is the source-view edit re-projected through the face mesh's depth
 * where it covers (mesh-depth.ts; zeros: the triplane's depth alone). The image-prompt
 * encoder takes references at 128² (the editor's encoders work at 128² internally).
 * Prompt tokens and E_high's normalisation affine are inputs, so an adapted style is a small
 * tensor pair (tokens + norm) and needs no re-export.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { Frame } from '../frame.js';
import { PromptBank, normalizeText, type PromptMatch } from './prompt-bank.js';
import { TextEncoder384 } from './text-encoder.js';
import { StagedEditor } from './staged-editor.js';
import { MESH_DEPTH_RES } from './mesh-depth.js';

type Graph = ort.InferenceSession | StagedEditor;

export const EDITOR_ASSETS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'editor');
export const EDITOR_SIZE = 256;
/** Reference images for image prompts are encoded at this size (image_prompt.onnx). */
export const IMAGE_PROMPT_SIZE = 128;

export interface PortraitEditorOptions {
  assetsDir?: string;
  /** onnxruntime intra-op threads (default 2). */
  threads?: number;
  /**
   * Run the graph in stages (staged-editor.ts) instead of whole when the assets have them, so
   * that `edit(…, { stop })` can drop a superseded run between stages, and a source-view edit
   * skips the re-projection the whole graph computes as the identity there (39 vs 51 ms).
   * Default true; false runs editor.onnx whole (its parity tests, speed comparisons).
   */
  staged?: boolean;
  /** Run one inference at load so the first frame is not slow (default true). */
  warmup?: boolean;
  /**
   * Free text through the int8 MiniLM + the learned projection (default true when the assets
   * exist); false: free text falls back to the nearest known phrasing by word overlap.
   */
  textEncoder?: boolean;
}

export interface EditInput {
  /** Aligned crop, CHW float32 in [0, 1], 3×EDITOR_SIZE². */
  image: Float32Array;
  srcCam: ArrayLike<number>;
  tgtCam: ArrayLike<number>;
  tokens: Float32Array;
  /** E_high norm affine; the trained default when omitted. */
  norm?: Float32Array;
  /**
   * The face mesh's depth at tgtCam (MeshDepth, 32², 0 = not covered): a novel view follows the
   * tracked face's shape; without it, the triplane's depth alone (a coarser face). Unused at the
   * source view.
   */
  meshDepth?: Float32Array;
}

export interface EditOutput {
  /** CHW float32 in [0, 1], 3×EDITOR_SIZE². */
  rgb: Float32Array;
  /** 32×32 depth (distance along the camera axis). */
  depth: Float32Array;
  ms: number;
}

interface StyleCacheEntry {
  file: string | null;
  mtimeMs: number;
  checkedAt: number;
  value: { tokens: Float32Array; norm: Float32Array } | null;
  error: string | null;
}

/**
 * Where adapted styles are looked for, in order: the ones shipped with the editor
 * (ASSETS/styles) and the ones users made on the server (PE_DATA_DIR/styles; default data/ at
 * the repository root: the server sets nothing, its filter workers inherit the environment).
 */
export function styleDirs(assetsDir: string = EDITOR_ASSETS): string[] {
  const data = process.env.PE_DATA_DIR ? path.resolve(process.env.PE_DATA_DIR) : path.resolve(EDITOR_ASSETS, '..', '..', '..', 'data');
  return [path.join(assetsDir, 'styles'), path.join(data, 'styles')];
}

export class PortraitEditor {
  private imageSession: ort.InferenceSession | null = null;
  private projSession: ort.InferenceSession | null = null;
  private encoder: TextEncoder384 | null = null;
  private phraseEmb: Float32Array | null = null;
  private readonly cache = new Map<string, PromptMatch | null>();
  private readonly styleCache = new Map<string, StyleCacheEntry>();
  private readonly noMeshDepth = new Float32Array(MESH_DEPTH_RES * MESH_DEPTH_RES);

  private constructor(
    /** The editor graph, whole or in stages (PortraitEditorOptions.staged). */
    private readonly graph: Graph,
    readonly bank: PromptBank,
    readonly assetsDir: string,
    private readonly sessionOptions: ort.InferenceSession.SessionOptions,
  ) {}

  static async load(opts: PortraitEditorOptions = {}): Promise<PortraitEditor> {
    const dir = opts.assetsDir ?? EDITOR_ASSETS;
    const file = path.join(dir, 'editor.onnx');
    if (!existsSync(file)) throw new Error(`editor model not found: ${file}`);
    const so: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.threads ?? 2,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // onnxruntime's pool threads spin-wait between ops by default: on 2 cores shared with
      // ffmpeg, the tracker and other streams that burnt ~30 ms of CPU per inference (70 vs
      // 40 ms measured under load) and made the inference itself slower.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    };
    const staged = (opts.staged ?? true) && StagedEditor.exists(dir);
    const load = (o: ort.InferenceSession.SessionOptions) => staged ? StagedEditor.load(dir, o) : ort.InferenceSession.create(file, o);
    const graph = await load(so);
    const ed = new PortraitEditor(graph, new PromptBank(dir), dir, so);
    if ((opts.textEncoder ?? true) && TextEncoder384.exists(dir)) {
      ed.encoder = await TextEncoder384.load(dir, 1);
      ed.projSession = await ort.InferenceSession.create(path.join(dir, 'text_proj.onnx'), so);
      const buf = readFileSync(path.join(dir, 'minilm-phrasings.bin'));
      ed.phraseEmb = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    }
    if (opts.warmup ?? true) {
      const cam = frontalCamera();
      const grey = { image: new Float32Array(3 * EDITOR_SIZE * EDITOR_SIZE).fill(0.5), srcCam: cam, tgtCam: cam, tokens: ed.nullTokens() };
      await ed.edit(grey);
    }
    return ed;
  }

  nullTokens(): Float32Array {
    return new Float32Array(this.bank.k * this.bank.d);
  }

  /** Whether free text goes through the MiniLM encoder (else: nearest known phrasing). */
  get hasTextEncoder(): boolean {
    return this.encoder !== null;
  }

  /**
   * Tokens for a text prompt (cached). A known phrasing or a style id → its precomputed tokens;
   * other text → MiniLM (int8) → text_proj (how 'encoder'; `style`/`text` name the most similar
   * known phrasing, `score` its cosine); without the encoder → nearest phrasing by word overlap,
   * null when no word overlaps.
   */
  async textTokens(text: string): Promise<PromptMatch | null> {
    const key = normalizeText(text);
    if (!this.cache.has(key)) {
      if (this.cache.size > 256) this.cache.clear();
      let m = this.bank.match(text);
      if (this.encoder && (!m || m.how === 'nearest')) m = await this.encodeText(text);
      this.cache.set(key, m);
    }
    return this.cache.get(key)!;
  }

  /**
   * An adapted style (pe_editor.adapt: tokens + E_high norm affine trained on ~10 pairs), from
   * NAME.json + NAME.bin in one of `styleDirs()`; null when there is none. Called per frame, so it
   * is cached and the files are looked at again at most once a second: a style made or deleted
   * while a call runs shows up (or goes) within a second, and a frame never waits for a disk read
   * of a known style.
   */
  adaptedStyle(name: string): { tokens: Float32Array; norm: Float32Array } | null {
    if (!/^[a-z0-9_-]{1,64}$/.test(name)) return null;
    const now = performance.now();
    const c = this.styleCache.get(name);
    if (c && now - c.checkedAt < 1000) {
      if (c.error) throw new Error(c.error);
      return c.value;
    }
    let file: string | null = null;
    let mtimeMs = 0;
    for (const dir of styleDirs(this.assetsDir)) {
      const j = path.join(dir, `${name}.json`);
      try {
        mtimeMs = statSync(j).mtimeMs;
        file = j;
        break;
      } catch {
        // not in this directory
      }
    }
    if (c && c.file === file && c.mtimeMs === mtimeMs) {
      c.checkedAt = now;
      if (c.error) throw new Error(c.error);
      return c.value;
    }
    if (this.styleCache.size > 64) this.styleCache.clear();
    const entry: StyleCacheEntry = { file, mtimeMs, checkedAt: now, value: null, error: null };
    this.styleCache.set(name, entry);
    if (!file) return null;
    try {
      entry.value = this.readStyle(file);
    } catch (err) {
      entry.error = `style ${name}: ${(err as Error).message}`;
      throw new Error(entry.error);
    }
    return entry.value;
  }

  private readStyle(jsonFile: string): { tokens: Float32Array; norm: Float32Array } {
    const meta = JSON.parse(readFileSync(jsonFile, 'utf8')) as { k: number; d: number; normDim: number; tokensOffset: number; normOffset: number };
    if (meta.k !== this.bank.k || meta.d !== this.bank.d || meta.normDim !== this.bank.normDim) throw new Error('sizes do not match the editor');
    const buf = readFileSync(jsonFile.replace(/\.json$/, '.bin'));
    const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (all.length < Math.max(meta.tokensOffset + meta.k * meta.d, meta.normOffset + meta.normDim)) throw new Error('tensor file is too short');
    return {
      tokens: all.slice(meta.tokensOffset, meta.tokensOffset + meta.k * meta.d),
      norm: all.slice(meta.normOffset, meta.normOffset + meta.normDim),
    };
  }

  /** MiniLM embedding → learned projection → tokens. */
  async encodeText(text: string): Promise<PromptMatch | null> {
    if (!this.encoder || !this.projSession || !this.phraseEmb) return null;
    if (!normalizeText(text)) return null;
    const e = await this.encoder.embed(text);
    const out = await this.projSession.run({ emb: new ort.Tensor('float32', e, [1, e.length]) });
    let best = 0, bestCos = -2;
    for (let i = 0; i < this.bank.entries.length; i++) {
      let c = 0;
      for (let j = 0; j < e.length; j++) c += e[j] * this.phraseEmb[i * e.length + j];
      if (c > bestCos) { bestCos = c; best = i; }
    }
    const ent = this.bank.entries[best];
    return { style: ent.style, text: ent.text, how: 'encoder', score: bestCos, tokens: Float32Array.from(out.tokens.data as Float32Array) };
  }

  /** Tokens for a reference image (image prompt): any RGB24 frame, resized to IMAGE_PROMPT_SIZE². */
  async imageTokens(ref: Frame): Promise<Float32Array> {
    if (!this.imageSession) {
      this.imageSession = await ort.InferenceSession.create(path.join(this.assetsDir, 'image_prompt.onnx'), this.sessionOptions);
    }
    const x = frameToCHW(ref, IMAGE_PROMPT_SIZE);
    const out = await this.imageSession.run({ ref: new ort.Tensor('float32', x, [1, 3, IMAGE_PROMPT_SIZE, IMAGE_PROMPT_SIZE]) });
    return Float32Array.from(out.tokens.data as Float32Array);
  }

  /**
   * `stop`: asked between stages when the graph runs staged; a run it stops throws
   * SupersededError.
   */
  async edit(inp: EditInput, opts: { stop?: () => boolean } = {}): Promise<EditOutput> {
    const n = EDITOR_SIZE;
    if (inp.image.length !== 3 * n * n) throw new Error(`editor image must be 3×${n}×${n}`);
    if (inp.tokens.length !== this.bank.k * this.bank.d) throw new Error('bad token count');
    const norm = inp.norm ?? this.bank.defaultNorm;
    if (norm.length !== this.bank.normDim) throw new Error('bad norm size');
    const mesh = inp.meshDepth ?? this.noMeshDepth;
    if (mesh.length !== MESH_DEPTH_RES * MESH_DEPTH_RES) throw new Error(`mesh depth must be ${MESH_DEPTH_RES}×${MESH_DEPTH_RES}`);
    const t0 = performance.now();
    const feeds = {
      image: new ort.Tensor('float32', inp.image, [1, 3, n, n]),
      src_cam: new ort.Tensor('float32', Float32Array.from(inp.srcCam), [1, 25]),
      tgt_cam: new ort.Tensor('float32', Float32Array.from(inp.tgtCam), [1, 25]),
      tokens: new ort.Tensor('float32', inp.tokens, [1, this.bank.k, this.bank.d]),
      norm: new ort.Tensor('float32', norm, [1, this.bank.normDim]),
      mesh_depth: new ort.Tensor('float32', mesh, [1, 1, MESH_DEPTH_RES, MESH_DEPTH_RES]),
    };
    const g = this.graph;
    const out = g instanceof StagedEditor ? await g.run(feeds, opts.stop) : await g.run(feeds);
    return {
      rgb: out.rgb.data as Float32Array,
      depth: out.depth.data as Float32Array,
      ms: performance.now() - t0,
    };
  }

  async close(): Promise<void> {
    await this.graph.release();
    await this.imageSession?.release();
    await this.projSession?.release();
    await this.encoder?.close();
  }
}

/** EG3D camera (25 numbers) of the frontal view, the Python/TS shared convention. */
export function frontalCamera(): number[] {
  return [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1, 4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1];
}

/** RGB24 frame → CHW float [0,1] at size×size (area-average / bilinear resize). */
export function frameToCHW(f: Frame, size: number): Float32Array {
  const out = new Float32Array(3 * size * size);
  const sx = f.width / size, sy = f.height / size;
  const plane = size * size;
  for (let y = 0; y < size; y++) {
    const y0 = Math.floor(y * sy), y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
    for (let x = 0; x < size; x++) {
      const x0 = Math.floor(x * sx), x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
      let r = 0, g = 0, b = 0, n = 0;
      for (let yy = y0; yy < Math.min(y1, f.height); yy++) {
        for (let xx = x0; xx < Math.min(x1, f.width); xx++) {
          const i = (yy * f.width + xx) * 3;
          r += f.data[i]; g += f.data[i + 1]; b += f.data[i + 2]; n++;
        }
      }
      const o = y * size + x;
      out[o] = r / n / 255; out[plane + o] = g / n / 255; out[2 * plane + o] = b / n / 255;
    }
  }
  return out;
}

/** HWC float (values·scale) → CHW float. */
export function hwcToCHW(hwc: Float32Array, size: number, scale = 1): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = hwc[3 * i] * scale;
    out[plane + i] = hwc[3 * i + 1] * scale;
    out[2 * plane + i] = hwc[3 * i + 2] * scale;
  }
  return out;
}

/** CHW float [0,1] → RGB24 frame. */
export function chwToFrame(chw: Float32Array, size: number, timestampMs = 0): Frame {
  const plane = size * size;
  const data = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = chw[c * plane + i] * 255;
      data[3 * i + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return { width: size, height: size, data, timestampMs };
}
