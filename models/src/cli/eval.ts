/**
 * `portrait-edit eval [--faces N] [--frames N] [--json out.json] [--md out.md] [--no-quality]`
 *
 * Issue 5's evaluation, 3dpe vs the teacher engine:
 *  - speed in this runtime (onnxruntime-node, CPU, 2 intra-op threads): the editor alone
 *    (median of 30 calls) and the whole 'editor' FrameProcessor per frame on held-out video
 *    (talking-d12.mp4: track + align + editor + matte + composite, median per stage);
 *  - quality (identity, 3D consistency at yaw ±20°, style L1 vs the teacher, teacher timings)
 *    from `python -m pe_editor.evaluate` in models/training/.venv (dlib identity descriptor),
 *    spawned with an argument array.
 * Writes JSON (--json) and a markdown table (--md; stdout when omitted).
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_FILTER_SETTINGS } from '@portrait-edit/shared';
import { PortraitEditor, EDITOR_SIZE, frontalCamera } from '../editor/portrait-editor.js';
import { MeshDepth, MESH_DEPTH_RES, loadMeshTriangles } from '../editor/mesh-depth.js';
import { EditorProcessor, type EditorTimings } from '../editor/processor.js';
import { readVideoFrames } from '../tracking/media-io.js';
import { cameraForView } from '../tracking/head-pose.js';
import { TEACHER_PYTHON } from './edit.js';
import { parseArgs, intOption } from './args.js';
import type { CliCommand, CliIO } from './commands.js';

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const r1 = (v: number): number => Math.round(v * 10) / 10;

/**
 * Editor ms per view at 256², 2 threads: as calls run it (in stages, the novel view re-projected
 * through the face mesh's depth, whose own cost is `meshDepthMs`), and the whole graph.
 */
export async function editorSpeed(n = 30): Promise<{ editorMs: number; editorMsNovel: number; meshDepthMs: number; wholeMs: number; wholeMsNovel: number; threads: number }> {
  const staged = await PortraitEditor.load({ threads: 2 });
  const whole = await PortraitEditor.load({ threads: 2, staged: false, textEncoder: false });
  try {
    const img = new Float32Array(3 * EDITOR_SIZE * EDITOR_SIZE).map((_, i) => (i % 97) / 97);
    const tok = (await staged.textTokens('golden statue'))!.tokens;
    const cam = frontalCamera();
    const nov = cameraForView(20, 0);
    const fx = JSON.parse(await fsp.readFile(path.join(staged.assetsDir, 'mesh_parity.json'), 'utf8')) as { lm: number[]; size: number };
    const md = new MeshDepth(loadMeshTriangles(staged.assetsDir));
    const depth = new Float32Array(MESH_DEPTH_RES * MESH_DEPTH_RES);
    const r: Record<'a' | 'b' | 'c' | 'd' | 'm', number[]> = { a: [], b: [], c: [], d: [], m: [] };
    for (let i = 0; i < n + 5; i++) {
      const t = performance.now();
      md.compute(fx.lm, fx.size, cam, nov, depth);
      const mMs = performance.now() - t;
      const a = (await staged.edit({ image: img, srcCam: cam, tgtCam: cam, tokens: tok })).ms;
      const b = (await staged.edit({ image: img, srcCam: cam, tgtCam: nov, tokens: tok, meshDepth: depth })).ms;
      const c = (await whole.edit({ image: img, srcCam: cam, tgtCam: cam, tokens: tok })).ms;
      const d = (await whole.edit({ image: img, srcCam: cam, tgtCam: nov, tokens: tok, meshDepth: depth })).ms;
      if (i < 5) continue; // warm-up
      r.a.push(a); r.b.push(b); r.c.push(c); r.d.push(d); r.m.push(mMs);
    }
    return {
      editorMs: r1(median(r.a)), editorMsNovel: r1(median(r.b)), meshDepthMs: Math.round(median(r.m) * 100) / 100,
      wholeMs: r1(median(r.c)), wholeMsNovel: r1(median(r.d)), threads: 2,
    };
  } finally {
    await staged.close();
    await whole.close();
  }
}

export async function processorSpeed(video: string, frames = 20): Promise<Record<string, number>> {
  const p = new EditorProcessor({ threads: 2 });
  await p.init();
  const st: Record<keyof EditorTimings | 'total', number[]> = { track: [], align: [], editor: [], matte: [], composite: [], total: [] };
  let width = 0, height = 0, edited = 0, n = 0;
  try {
    for await (const f of readVideoFrames(video, { maxFrames: frames, size: { width: 640, height: 480 } })) {
      width = f.width; height = f.height;
      const t = performance.now();
      const r = await p.process(f, { peerId: 'eval', settings: { ...DEFAULT_FILTER_SETTINGS, enabled: true, prompt: { kind: 'text', text: 'a golden statue' } } });
      const total = performance.now() - t;
      if (n++ < 3) continue; // warm-up frames
      if (r.edited) edited++;
      st.total.push(total);
      for (const k of Object.keys(p.lastTimings) as (keyof EditorTimings)[]) st[k].push(p.lastTimings[k]);
      if (n >= frames) break;
    }
  } finally {
    await p.close();
  }
  return { width, height, frames: st.total.length, edited, ...Object.fromEntries(Object.entries(st).map(([k, v]) => [`${k}Ms`, r1(median(v))])) };
}

function runPython(args: string[], io: CliIO): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(TEACHER_PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HF_HUB_OFFLINE: '1', GLOG_minloglevel: '2', TF_CPP_MIN_LOG_LEVEL: '2' } });
    p.stdout.on('data', () => undefined);
    p.stderr.on('data', (d: Buffer) => { const s = d.toString(); if (/error|Traceback/i.test(s)) io.stderr(s); });
    p.on('error', (e) => { io.stderr(`cannot start python: ${e.message}\n`); resolve(1); });
    p.on('close', (c) => resolve(c ?? 1));
  });
}

type Q = {
  faces: string[]; cases: number;
  identity: { '3dpe': number; teacher: number };
  consistency_pm20: { '3dpe': number; teacher: number; '3dpe_no_prompt': number };
  style_l1: { '3dpe_vs_teacher': number; input_vs_teacher: number };
  recon_l1_no_prompt: number;
  ms: { '3dpe_editor_onnxruntime_py_2threads': number; teacher_stylizer: number; teacher_lift_per_view: number };
  temporal?: { '3dpe': number; teacher: number; input: number; pairs: number; clip: string } | null;
  engines?: Record<'3dpe' | 'teacher', Record<string, number | null>>;
  perStyle?: Record<string, unknown>[];
  adapted_style?: { name: string; transform: string; pairs: number; steps: number; l1_adapted: number; l1_best_bank_style: number; best_bank_style: string; l1_unedited_input: number } | null;
};

export function markdown(speed: Awaited<ReturnType<typeof editorSpeed>>, proc: Record<string, number> | null, q: Q | null): string {
  const L: string[] = [];
  L.push('| measure | 3dpe (this editor) | teacher (stylizer + 3D lift) |', '|---|---|---|');
  if (q) {
    L.push(`| identity cosine, input vs source-view output | ${q.identity['3dpe']} | ${q.identity.teacher} |`);
    L.push(`| 3D consistency: identity cosine yaw ±20° vs 0° | ${q.consistency_pm20['3dpe']} (no prompt: ${q.consistency_pm20['3dpe_no_prompt']}) | ${q.consistency_pm20.teacher} |`);
    L.push(`| style L1 to the teacher's edit (source view, 256², [0,1]) | ${q.style_l1['3dpe_vs_teacher']} | 0 (is the target); unedited input: ${q.style_l1.input_vs_teacher} |`);
    L.push(`| reconstruction L1, no prompt | ${q.recon_l1_no_prompt} | — |`);
    if (q.temporal) L.push(`| temporal: mean frame-to-frame change (×255) on steady frames of ${q.temporal.clip} (input ${q.temporal.input}) | ${q.temporal['3dpe']} | ${q.temporal.teacher} (2D edit per frame) |`);
    L.push(`| ms, editor / stylizer (Python onnxruntime, 2 threads) | ${q.ms['3dpe_editor_onnxruntime_py_2threads']} per view | ${q.ms.teacher_stylizer} + ${q.ms.teacher_lift_per_view} per novel view |`);
  }
  L.push(`| ms, editor in onnxruntime-node (2 threads), source / novel view, in stages as calls run it (+ mesh depth ${speed.meshDepthMs}) | ${speed.editorMs} / ${speed.editorMsNovel} (whole graph: ${speed.wholeMs} / ${speed.wholeMsNovel}) | — |`);
  if (proc) {
    L.push(`| ms per ${proc.width}×${proc.height} frame, whole processor (median) | ${proc.totalMs} (track ${proc.trackMs}, align ${proc.alignMs}, editor ${proc.editorMs}, matte ${proc.matteMs}, composite ${proc.compositeMs}) | — |`);
  }
  if (q) L.push('', `Held-out faces: ${q.faces.join(', ')}; ${q.cases} face × style cases, held-out phrasings.`);
  const a = q?.adapted_style;
  if (a) {
    L.push('', `Adapted style '${a.name}' (${a.transform}, ${a.pairs} training pairs, ${a.steps} steps, tokens + norm only): L1 to the transform on the held-out faces ${a.l1_adapted}; best of the 14 trained styles (${a.best_bank_style}) ${a.l1_best_bank_style}; unedited input ${a.l1_unedited_input}.`);
  }
  return L.join('\n') + '\n';
}

export const evalCommand: CliCommand = {
  synopsis: 'eval [--faces N] [--frames N] [--json out.json] [--md out.md] [--no-quality]',
  description: 'Evaluate the 3DPE editor vs the teacher: identity, 3D consistency, style L1, ms per frame.',
  async run(argv, io) {
    const { options: o } = parseArgs(argv, ['faces', 'frames', 'json', 'md'], ['no-quality']);
    const faces = intOption(o, 'faces', 4);
    const frames = intOption(o, 'frames', 20, 4);
    const speed = await editorSpeed();
    const video = path.resolve(path.dirname(TEACHER_PYTHON), '..', '..', '..', '..', '..', 'shared', 'testdata', 'video', 'talking-d12.mp4');
    const proc = existsSync(video) ? await processorSpeed(video, frames) : null;
    let quality: Q | null = null;
    if (!o['no-quality']) {
      const tmp = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'pe-eval-')), 'q.json');
      const rc = await runPython(['-m', 'pe_editor.evaluate', '--faces', String(faces), '--json', tmp], io);
      if (rc !== 0) {
        io.stderr(`portrait-edit eval: python evaluation failed (exit ${rc})\n`);
        return 1;
      }
      quality = JSON.parse(await fsp.readFile(tmp, 'utf8')) as Q;
    }
    // The machine-readable summary at the top level: per engine, with the 3dpe ms from
    // this runtime (onnxruntime-node) rather than Python's.
    const engines = quality?.engines
      ? { ...quality.engines, '3dpe': { ...quality.engines['3dpe'], msPerImage: speed.editorMs } }
      : { '3dpe': { msPerImage: speed.editorMs } };
    const report = {
      machine: `${os.cpus().length} CPU (${os.cpus()[0]?.model ?? '?'})`, loadAverage: os.loadavg().map((x) => r1(x)),
      engines, perStyle: quality?.perStyle ?? [], speed, processor: proc, quality,
    };
    if (typeof o.json === 'string') await fsp.writeFile(o.json, JSON.stringify(report, null, 1));
    const md = markdown(speed, proc, quality);
    if (typeof o.md === 'string') await fsp.writeFile(o.md, md);
    else io.stdout(md);
    return 0;
  },
};
