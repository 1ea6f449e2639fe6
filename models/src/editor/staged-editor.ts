/**
 * The editor graph as four onnxruntime sessions (assets/editor/stages, written by
 * models/training/pe_editor/export_stages.py from the same weights as editor.onnx, checked
 * equal to it there and in the tests): encode (E_low, E_high, cross-attention, decoder →
 * triplane), render (triplane → 32² features + depth at the source camera), then at the source
 * view finish (SR and refine → the 256² edit), at a novel view lift (the same edit, re-projected
 * through the triplane's 16² depth merged with the face mesh's). editor.onnx computes both in
 * one graph (its lift is the identity at the source view).
 *
 * Why: onnxruntime cannot abort a run, and a prompt switch used to wait for the run in progress
 * with the old prompt (up to a whole run, 100–300 ms on a loaded 2-core machine). Run in stages,
 * a superseded run stops at the next stage boundary instead (encode/render/finish took
 * 13/15/10 ms on an idle 2-core machine; lift, finish's place at a novel view, ~18 ms).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

/** A staged run stopped because the caller no longer wants it (see StagedEditor.run). */
export class SupersededError extends Error {
  constructor() {
    super('editor run superseded');
    this.name = 'SupersededError';
  }
}

export interface StagedFeeds {
  image: ort.Tensor;
  src_cam: ort.Tensor;
  tgt_cam: ort.Tensor;
  tokens: ort.Tensor;
  norm: ort.Tensor;
  mesh_depth: ort.Tensor;
}

const STAGES = ['encode', 'render', 'finish', 'lift'] as const;

function sameCamera(a: ort.Tensor, b: ort.Tensor): boolean {
  const x = a.data as Float32Array, y = b.data as Float32Array;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Lets port messages (a supersede request) in between stages: a resolved run continues on a microtask. */
const yieldToEvents = () => new Promise<void>((r) => setImmediate(r));

export class StagedEditor {
  private constructor(
    private readonly encode: ort.InferenceSession,
    private readonly render: ort.InferenceSession,
    private readonly finish: ort.InferenceSession,
    private readonly lift: ort.InferenceSession,
  ) {}

  static exists(assetsDir: string): boolean {
    return STAGES.every((s) => existsSync(path.join(assetsDir, 'stages', `${s}.onnx`)));
  }

  static async load(assetsDir: string, so: ort.InferenceSession.SessionOptions): Promise<StagedEditor> {
    const f = (s: string) => ort.InferenceSession.create(path.join(assetsDir, 'stages', `${s}.onnx`), so);
    return new StagedEditor(await f('encode'), await f('render'), await f('finish'), await f('lift'));
  }

  /** rgb (1,3,256,256) and depth (1,1,32,32) as the whole graph gives; throws SupersededError once `stop()` says so. */
  async run(x: StagedFeeds, stop: () => boolean = () => false): Promise<{ rgb: ort.Tensor; depth: ort.Tensor }> {
    const { planes } = await this.encode.run({ image: x.image, src_cam: x.src_cam, tokens: x.tokens, norm: x.norm });
    await yieldToEvents();
    if (stop()) throw new SupersededError();
    const { feat, depth } = await this.render.run({ planes, tgt_cam: x.src_cam });
    await yieldToEvents();
    if (stop()) throw new SupersededError();
    if (sameCamera(x.src_cam, x.tgt_cam)) {
      const { rgb } = await this.finish.run({ image: x.image, feat });
      return { rgb, depth };
    }
    const out = await this.lift.run({ planes, image: x.image, feat, src_cam: x.src_cam, tgt_cam: x.tgt_cam, mesh_depth: x.mesh_depth });
    return { rgb: out.rgb, depth: out.depth };
  }

  async release(): Promise<void> {
    await Promise.all([this.encode.release(), this.render.release(), this.finish.release(), this.lift.release()]);
  }
}
