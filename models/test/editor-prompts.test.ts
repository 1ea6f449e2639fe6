import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FILTER_SETTINGS, type FilterSettings, type Prompt } from '@portrait-edit/shared';
import { EditorProcessor } from '../src/editor/processor.js';
import { readImage } from '../src/tracking/media-io.js';
import type { Frame, ProcessContext } from '../src/frame.js';
import { SLOW, facesDir, testdata } from './helpers.js';

// Prompt switching off the frame path: the editor keeps the previous style while a new prompt
// is encoded, switches on the first frame after, and reports when (issue 6).

describe('editor prompts off the frame path', () => {
  const proc = new EditorProcessor({ threads: 2 });
  let face: Frame;
  beforeAll(async () => {
    await proc.init();
    face = await readImage(path.join(facesDir, 'ffhq-1.png'));
  }, SLOW);
  afterAll(async () => proc.close());

  const ctx = (prompt: Prompt, reference?: Frame): ProcessContext => ({
    peerId: 'p',
    settings: { ...DEFAULT_FILTER_SETTINGS, enabled: true, prompt } satisfies FilterSettings,
    reference,
  });
  const run = (c: ProcessContext) => proc.process({ ...face, data: face.data.slice() }, c);

  it('presets are ready from init: the switch shows on the next frame, ready when asked', async () => {
    const c = ctx({ kind: 'preset', id: 'sepia' });
    proc.prepare(c);
    const sw = proc.promptSwitch()!;
    expect(sw.cached).toBe(true);
    expect(sw.readyAt).toBe(sw.requestedAt);
    const r = await run(c);
    expect(r.edited).toBe(true);
    expect(proc.lastPrompt?.style).toBe('sepia');
    expect(proc.promptSwitch()!.shownAt).not.toBeNull();
  }, SLOW);

  it('free text is encoded in the background: frames keep the previous style until its tokens are ready', async () => {
    const text = 'a face carved from white stone in a museum';
    const c = ctx({ kind: 'text', text });
    proc.prepare(c);
    const sw = proc.promptSwitch()!;
    expect(sw.cached).toBe(false);
    expect(sw.readyAt).toBeNull();
    // The encoder has not had a turn yet: this frame is made with the previous prompt (sepia).
    const r1 = await run(c);
    expect(r1.edited).toBe(true);
    expect(proc.lastPrompt?.style).toBe('sepia');
    await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < 100 && proc.promptSwitch()!.readyAt === null; i++) await new Promise((r) => setTimeout(r, 20));
    const ready = proc.promptSwitch()!;
    expect(ready.readyAt).not.toBeNull();
    expect(ready.shownAt).toBeNull();
    const r2 = await run(c);
    expect(r2.edited).toBe(true);
    expect(proc.lastPrompt?.how).toBe('encoder');
    const shown = proc.promptSwitch()!;
    expect(shown.seq).toBe(sw.seq);
    expect(shown.shownAt!).toBeGreaterThanOrEqual(shown.readyAt!);
    // Cached from now on.
    proc.prepare(ctx({ kind: 'preset', id: 'neon' }));
    proc.prepare(c);
    expect(proc.promptSwitch()!.cached).toBe(true);
  }, SLOW);

  it('image prompts use the reference the server passes in the context', async () => {
    const ref = await readImage(path.join(testdata, 'styles', 'ref-1.png'));
    const c = ctx({ kind: 'image', uploadId: 'upload-abcdefgh' }, ref);
    proc.prepare(c);
    for (let i = 0; i < 200 && proc.promptSwitch()!.readyAt === null; i++) await new Promise((r) => setTimeout(r, 20));
    const r = await run(c);
    expect(r.edited).toBe(true);
    expect(proc.lastPrompt?.how).toBe('image');
  }, SLOW);

  it('a prompt that cannot be used says why instead of showing a stale style', async () => {
    const c = ctx({ kind: 'image', uploadId: 'missing-upload-1' });
    proc.prepare(c);
    for (let i = 0; i < 100 && proc.promptSwitch()!.failed === null; i++) await new Promise((r) => setTimeout(r, 20));
    const r = await run(c);
    expect(r).toMatchObject({ edited: false, reason: 'image prompt not found' });
  }, SLOW);

  it('preset thumbnails: each preset applied to the face in the next frame, as JPEG data URLs', async () => {
    const pending = proc.presetThumbnails(['sepia', 'neon', 'no-such-style']);
    await run(ctx({ kind: 'preset', id: 'sepia' }));
    const images = (await pending)!;
    expect(Object.keys(images).sort()).toEqual(['neon', 'sepia']);
    for (const url of Object.values(images)) {
      expect(url.startsWith('data:image/jpeg;base64,')).toBe(true);
      expect(url.length).toBeLessThan(16_000);
    }
    expect(images.sepia).not.toBe(images.neon);
  }, SLOW);
});
