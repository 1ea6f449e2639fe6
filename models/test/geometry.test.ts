import { describe, expect, it } from 'vitest';
import { poseFromMesh, cameraForView, cameraFromPose, viewFromCamera, EG3D_FOCAL } from '../src/tracking/head-pose.js';
import { SYMMETRIC_PAIRS, MIDLINE_UPPER, MIDLINE_LOWER } from '../src/tracking/mesh-indices.js';
import { applyAffine, composeAffine, invertAffine, squareCropTransform, warpAffineRGB } from '../src/tracking/image-ops.js';
import { cropToFrameTransform, frameToCropTransform, type CropFrame } from '../src/tracking/alignment.js';

const D = Math.PI / 180;

/** A synthetic 468-point "mesh": symmetric pairs mirrored in x, midline on x = 0, all in pixels. */
function syntheticMesh(): Float64Array {
  const m = new Float64Array(468 * 3);
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  for (let i = 0; i < 468; i++) {
    m[3 * i] = rnd() * 100;
    m[3 * i + 1] = rnd() * 120;
    m[3 * i + 2] = rnd() * 40;
  }
  for (const [r, l] of SYMMETRIC_PAIRS) {
    const x = 10 + Math.abs(rnd()) * 80, y = rnd() * 100, z = rnd() * 30;
    m.set([-x, y, z], 3 * r);
    m.set([x, y, z], 3 * l);
  }
  for (const i of MIDLINE_UPPER) m.set([0, -60 + rnd() * 10, 5], 3 * i);
  for (const i of MIDLINE_LOWER) m.set([0, 40 + rnd() * 10, 5], 3 * i);
  return m;
}

/** Rotate the mesh: roll (about z), then pitch (about x), then yaw (about y), and move it. */
function rotate(m: Float64Array, yaw: number, pitch: number, roll: number): Float64Array {
  const [cy, sy, cp, sp, cr, sr] = [Math.cos(yaw * D), Math.sin(yaw * D), Math.cos(pitch * D), Math.sin(pitch * D), Math.cos(roll * D), Math.sin(roll * D)];
  const out = new Float64Array(m.length);
  for (let i = 0; i < m.length; i += 3) {
    let [x, y, z] = [m[i], m[i + 1], m[i + 2]];
    [x, y] = [cr * x - sr * y, sr * x + cr * y];
    [y, z] = [cp * y + sp * z, -sp * y + cp * z];
    [x, z] = [cy * x - sy * z, sy * x + cy * z];
    out[i] = x + 320;
    out[i + 1] = y + 240;
    out[i + 2] = z;
  }
  return out;
}

describe('head pose from mesh', () => {
  it('is zero for the upright synthetic face', () => {
    const p = poseFromMesh(rotate(syntheticMesh(), 0, 0, 0));
    expect(Math.abs(p.yaw)).toBeLessThan(1e-6);
    expect(Math.abs(p.pitch)).toBeLessThan(1e-6);
    expect(Math.abs(p.roll)).toBeLessThan(1e-6);
  });

  it.each([
    [20, 0, 0], [-30, 0, 0], [0, 15, 0], [0, -20, 0], [0, 0, 12], [25, -10, 8], [-15, 20, -25],
  ])('recovers yaw %d, pitch %d, roll %d', (yaw, pitch, roll) => {
    const p = poseFromMesh(rotate(syntheticMesh(), yaw, pitch, roll));
    expect(p.yaw).toBeCloseTo(yaw, 3);
    expect(p.pitch).toBeCloseTo(pitch, 3);
    expect(p.roll).toBeCloseTo(roll, 3);
  });
});

describe('EG3D cameras', () => {
  it('frontal view is the canonical FFHQ camera', () => {
    const c = cameraForView(0, 0);
    expect(c).toHaveLength(25);
    const expected = [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1, EG3D_FOCAL, 0, 0.5, 0, EG3D_FOCAL, 0.5, 0, 0, 1];
    c.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 9));
  });

  it.each([[20, 0], [-35, 10], [10, -25]])('camera for yaw %d pitch %d looks at the origin from radius 2.7 and round-trips', (yaw, pitch) => {
    const c = cameraForView(yaw, pitch);
    const o = [c[3], c[7], c[11]];
    expect(Math.hypot(o[0], o[1], o[2])).toBeCloseTo(2.7, 9);
    const fwd = [c[2], c[6], c[10]];
    // forward points from the camera to the origin
    for (let k = 0; k < 3; k++) expect(fwd[k]).toBeCloseTo(-o[k] / 2.7, 9);
    // rotation is orthonormal
    const col = (j: number) => [c[j], c[4 + j], c[8 + j]];
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) {
      const d = col(a).reduce((s, v, k) => s + v * col(b)[k], 0);
      expect(d).toBeCloseTo(a === b ? 1 : 0, 9);
    }
    const v = viewFromCamera(c);
    expect(v.yaw).toBeCloseTo(yaw, 9);
    expect(v.pitch).toBeCloseTo(pitch, 9);
  });

  it('a head turned to its left (yaw > 0) means a camera on the subject’s right (x < 0); looking up means a camera below', () => {
    expect(cameraFromPose({ yaw: 20, pitch: 0, roll: 0 })[3]).toBeLessThan(-0.5);
    expect(cameraFromPose({ yaw: 0, pitch: 15, roll: 0 })[7]).toBeLessThan(-0.5);
  });
});

describe('affine helpers and crop transforms', () => {
  it('invertAffine inverts, composeAffine composes', () => {
    const m = squareCropTransform(100, 80, 150, 0.3, 192);
    const id = composeAffine(m, invertAffine(m));
    [1, 0, 0, 0, 1, 0].forEach((v, i) => expect(id[i]).toBeCloseTo(v, 9));
    const [cx, cy] = applyAffine(m, 96, 96);
    expect(cx).toBeCloseTo(100, 9);
    expect(cy).toBeCloseTo(80, 9);
  });

  it('crop transform maps the crop centre to c and its +x edge to c + hx', () => {
    const c: CropFrame = { cx: 300, cy: 200, hx: 120, hy: 30 };
    const t = cropToFrameTransform(c, 256);
    expect(applyAffine(t, 128, 128)).toEqual([expect.closeTo(300, 9), expect.closeTo(200, 9)]);
    expect(applyAffine(t, 256, 128)).toEqual([expect.closeTo(420, 9), expect.closeTo(230, 9)]);
    // y axis is x rotated +90° (down in image coordinates)
    expect(applyAffine(t, 128, 256)).toEqual([expect.closeTo(270, 9), expect.closeTo(320, 9)]);
    const back = composeAffine(frameToCropTransform(c, 256), t);
    [1, 0, 0, 0, 1, 0].forEach((v, i) => expect(back[i]).toBeCloseTo(v, 9));
  });

  it('identity warp reproduces the image exactly', () => {
    const w = 7, h = 5;
    const src = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const out = warpAffineRGB(src, w, h, [1, 0, 0, 0, 1, 0], w, h);
    out.forEach((v, i) => expect(v).toBeCloseTo(src[i], 6));
  });
});
