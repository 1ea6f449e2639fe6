import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EDITOR_ASSETS, EDITOR_SIZE } from '../src/editor/portrait-editor.js';
import { MeshDepth, loadMeshTriangles, meshInCrop } from '../src/editor/mesh-depth.js';
import { FaceTracker } from '../src/tracking/face-tracker.js';
import { readImage } from '../src/tracking/media-io.js';
import { SLOW, facesDir } from './helpers.js';

interface Fixture { size: number; lm: number[]; src_cam: number[]; tgt_cam: number[]; res: number; depth: number[]; covered: number }
const fixture = (): Fixture => JSON.parse(readFileSync(path.join(EDITOR_ASSETS, 'mesh_parity.json'), 'utf8')) as Fixture;

describe('MeshDepth (the face mesh depth behind novel views)', () => {
  const md = new MeshDepth(loadMeshTriangles(EDITOR_ASSETS));

  it('reproduces pe_editor/mesh_depth.py on its fixture', () => {
    const f = fixture();
    const d = md.compute(f.lm, f.size, f.src_cam, f.tgt_cam);
    let worst = 0, covered = 0;
    for (let i = 0; i < d.length; i++) {
      worst = Math.max(worst, Math.abs(d[i] - f.depth[i]));
      if (d[i] > 0) covered++;
    }
    expect(worst).toBeLessThan(1e-4);
    expect(covered).toBe(f.covered);
    expect(covered).toBeGreaterThan(150);
  });

  it('on the tracker mesh of the same portrait, it agrees with the Python landmarks (same z convention)', async () => {
    const f = fixture();
    const frame = await readImage(path.join(facesDir, 'ffhq-9.png'));
    const face = (await new FaceTracker({ detectEvery: 1, maxFaces: 1 }).track(frame)).faces[0];
    expect(face).toBeDefined();
    const d = md.compute(meshInCrop(face.mesh, face.crop, EDITOR_SIZE), EDITOR_SIZE, f.src_cam, f.tgt_cam);
    let both = 0, either = 0;
    const diffs: number[] = [];
    for (let i = 0; i < d.length; i++) {
      if (d[i] > 0 || f.depth[i] > 0) either++;
      if (d[i] > 0 && f.depth[i] > 0) { both++; diffs.push(Math.abs(d[i] - f.depth[i])); }
    }
    diffs.sort((a, b) => a - b);
    expect(both / either).toBeGreaterThan(0.85);
    // the face's depth relief is ~0.15 world units; a flipped or mis-scaled z would be off by that much
    expect(diffs[diffs.length >> 1]).toBeLessThan(0.02);
  }, SLOW);

  it('rejects a mesh that is not 468 points', () => {
    expect(() => md.compute(new Float32Array(30), 256, fixture().src_cam, fixture().tgt_cam)).toThrow(/468/);
  });
});
