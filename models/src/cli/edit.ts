/**
 * `portrait-edit edit <image> --engine 3dpe|teacher (--prompt "…" | --ref ref.png)
 *      [--yaw D] [--pitch D] [--strength S] [--size N] -o out.png`
 *
 * --engine 3dpe (default): the trained editor (models/assets/editor) on onnxruntime-node.
 * --engine teacher: spawns models/training/.venv/bin/python -m pe_teachers.cli edit with the
 *   same arguments (argument array, no shell).
 * Views as in the teacher CLI: no --yaw/--pitch → the edit is composited back into the input
 * image (same size); with --yaw/--pitch (EG3D degrees, yaw > 0 = camera toward world +x; a missing
 * one keeps the source's) → the re-rendered aligned portrait (--size², default 256²).
 * Exit codes: 0 ok, 2 bad input/usage (message on stderr), 1 internal error.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Frame } from '../frame.js';
import { FaceTracker } from '../tracking/face-tracker.js';
import { alignFaceFloat } from '../tracking/alignment.js';
import { cameraForView } from '../tracking/head-pose.js';
import { compositeFace } from '../tracking/composite.js';
import { SelfieMatte, MATTE_SIZE } from '../tracking/matte.js';
import { InputError, readImage, writePng } from '../tracking/media-io.js';
import { PortraitEditor, EDITOR_SIZE, chwToFrame, hwcToCHW } from '../editor/portrait-editor.js';
import { MeshDepth, loadMeshTriangles, meshInCrop } from '../editor/mesh-depth.js';
import { parseArgs, UsageError } from './args.js';
import type { CliCommand, CliIO } from './commands.js';

const MODELS_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TEACHER_PYTHON = path.join(MODELS_ROOT, 'training', '.venv', 'bin', 'python');
/** Views the 3dpe engine accepts (the 3D teacher's training views span yaw ±30°, pitch ±20°). */
export const EDIT_LIMITS = { yaw: 45, pitch: 30 } as const;

export interface EditArgs {
  image: string;
  engine: '3dpe' | 'teacher';
  prompt?: string;
  ref?: string;
  yaw?: number;
  pitch?: number;
  strength: number;
  size: number;
  out: string;
}

function num(v: string | true | undefined, name: string, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n) || n < lo || n > hi) throw new UsageError(`--${name} must be a number in [${lo}, ${hi}]`);
  return n;
}

export function parseEditArgs(argv: string[]): EditArgs {
  const fixed = argv.map((a) => (a === '-o' ? '--out' : a === '-p' ? '--prompt' : a));
  const { positionals, options: o } = parseArgs(fixed, ['engine', 'prompt', 'ref', 'yaw', 'pitch', 'strength', 'size', 'out']);
  if (positionals.length !== 1) throw new UsageError('expected exactly one input image');
  const engine = (o.engine ?? '3dpe') as string;
  if (engine !== '3dpe' && engine !== 'teacher') throw new UsageError(`--engine must be 3dpe or teacher, got '${engine}'`);
  if (typeof o.out !== 'string') throw new UsageError('-o/--out is required');
  const prompt = typeof o.prompt === 'string' ? o.prompt.trim() : undefined;
  const ref = typeof o.ref === 'string' ? o.ref : undefined;
  if (!prompt && !ref) throw new UsageError('give --prompt "…" or --ref ref.png');
  if (prompt && ref) throw new UsageError('give either --prompt or --ref, not both');
  if (prompt && prompt.length > 200) throw new UsageError('--prompt is longer than 200 characters');
  const lim = engine === 'teacher' ? { yaw: 90, pitch: 60 } : EDIT_LIMITS;
  return {
    image: positionals[0], engine, prompt, ref, out: o.out,
    yaw: num(o.yaw, 'yaw', -lim.yaw, lim.yaw),
    pitch: num(o.pitch, 'pitch', -lim.pitch, lim.pitch),
    strength: num(o.strength, 'strength', 0, 1) ?? 1,
    size: num(o.size, 'size', 16, 2048) ?? 256,
  };
}

/** The teacher engine: the Python CLI with the same arguments; resolves to its exit code. */
export function runTeacher(a: EditArgs, io: CliIO, python = TEACHER_PYTHON): Promise<number> {
  if (!existsSync(python)) {
    io.stderr(`portrait-edit edit: the teacher engine needs ${python} (run models/training/setup-venv.sh)\n`);
    return Promise.resolve(1);
  }
  const args = ['-m', 'pe_teachers.cli', 'edit', a.image, '-o', a.out, '--strength', String(a.strength), '--json'];
  if (a.prompt) args.push('--prompt', a.prompt);
  if (a.ref) args.push('--ref', a.ref);
  if (a.yaw !== undefined) args.push('--yaw', String(a.yaw));
  if (a.pitch !== undefined) args.push('--pitch', String(a.pitch));
  if (a.yaw !== undefined || a.pitch !== undefined) args.push('--size', String(a.size));
  return new Promise((resolve) => {
    const p = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HF_HUB_OFFLINE: '1', GLOG_minloglevel: '2', TF_CPP_MIN_LOG_LEVEL: '2' } });
    p.stdout.on('data', (d: Buffer) => io.stdout(d.toString()));
    p.stderr.on('data', (d: Buffer) => io.stderr(d.toString()));
    p.on('error', (e) => { io.stderr(`portrait-edit edit: cannot start the teacher: ${e.message}\n`); resolve(1); });
    p.on('close', (code) => resolve(code ?? 1));
  });
}

async function resize(f: Frame, size: number): Promise<Frame> {
  const { data, info } = await sharp(Buffer.from(f.data), { raw: { width: f.width, height: f.height, channels: 3 } })
    .resize(size, size, { kernel: 'cubic' }).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data), timestampMs: f.timestampMs };
}

export interface EditResult {
  engine: '3dpe';
  style: string;
  phrasing: string;
  match: string;
  view: 'source' | 'novel';
  sourceYaw: number;
  sourcePitch: number;
  yaw?: number;
  pitch?: number;
  ms: { track: number; editor: number; total: number };
}

/** The 3dpe engine on one image file. `editor` may be shared between calls. */
export async function edit3dpe(a: EditArgs, editor?: PortraitEditor): Promise<{ frame: Frame; info: EditResult }> {
  const t0 = performance.now();
  const frame = await readImage(a.image);
  const ed = editor ?? (await PortraitEditor.load());
  let tokens: Float32Array, style = 'image', phrasing = a.ref ?? '', how = 'image';
  if (a.prompt) {
    const m = await ed.textTokens(a.prompt);
    if (!m) throw new InputError(`prompt not understood: '${a.prompt}'`);
    tokens = m.tokens; style = m.style; phrasing = m.text; how = m.how;
  } else {
    tokens = await ed.imageTokens(await readImage(a.ref!));
  }
  const tracker = new FaceTracker({ detectEvery: 1, maxFaces: 1 });
  const tt = performance.now();
  const tr = await tracker.track(frame);
  const trackMs = performance.now() - tt;
  if (tr.faces.length === 0) throw new InputError(`no face found in ${a.image}`);
  const face = tr.faces[0];
  // Python/EG3D yaw (camera toward world +x) is the negative of the head-pose yaw of head-pose.ts
  const srcYaw = -face.pose.yaw, srcPitch = face.pose.pitch;
  const novel = a.yaw !== undefined || a.pitch !== undefined;
  const yaw = a.yaw ?? srcYaw, pitch = a.pitch ?? srcPitch;
  const tgt = novel ? cameraForView(-yaw, pitch) : face.camera;
  const img = hwcToCHW(alignFaceFloat(frame, face.crop, EDITOR_SIZE, 1 / 255, 0), EDITOR_SIZE);
  const useTokens = novel && a.strength < 1 ? tokens.map((x) => x * a.strength) : tokens;
  const meshDepth = novel
    ? new MeshDepth(loadMeshTriangles(ed.assetsDir)).compute(meshInCrop(face.mesh, face.crop, EDITOR_SIZE), EDITOR_SIZE, face.camera, tgt)
    : undefined;
  const out = await ed.edit({ image: img, srcCam: face.camera, tgtCam: tgt, tokens: useTokens, meshDepth });
  const crop = chwToFrame(out.rgb, EDITOR_SIZE);
  let result: Frame;
  if (novel) {
    result = await resize(crop, a.size);
  } else {
    const matte = new SelfieMatte();
    const m = await matte.matteFromCrop(alignFaceFloat(frame, face.crop, MATTE_SIZE, 1 / 255, 0));
    compositeFace(frame, crop, face.crop, { matte: m, alpha: new Float32Array([a.strength]), colorMatch: 0 });
    result = frame;
  }
  const r1 = (v: number): number => Math.round(v * 10) / 10;
  return {
    frame: result,
    info: {
      engine: '3dpe', style, phrasing, match: how, view: novel ? 'novel' : 'source',
      sourceYaw: r1(srcYaw), sourcePitch: r1(srcPitch), ...(novel ? { yaw: r1(yaw), pitch: r1(pitch) } : {}),
      ms: { track: r1(trackMs), editor: r1(out.ms), total: r1(performance.now() - t0) },
    },
  };
}

export const editCommand: CliCommand = {
  synopsis: 'edit <image> --engine 3dpe|teacher (--prompt "…" | --ref ref.png) [--yaw D --pitch D] [--strength S] [--size N] -o out.png',
  description: 'Edit a portrait with the trained 3DPE editor (default) or the teacher engine; JSON report on stdout.',
  async run(argv, io) {
    const a = parseEditArgs(argv);
    if (a.engine === 'teacher') return runTeacher(a, io);
    if (!/\.(png|jpe?g|webp)$/i.test(a.out)) throw new UsageError('-o must end in .png, .jpg or .webp');
    const { frame, info } = await edit3dpe(a);
    if (/\.png$/i.test(a.out)) await writePng(frame, a.out);
    else await sharp(Buffer.from(frame.data), { raw: { width: frame.width, height: frame.height, channels: 3 } }).toFile(a.out);
    io.stdout(JSON.stringify(info) + '\n');
    return 0;
  },
};
