import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '@portrait-edit/server';
import type { FilterSettings } from '@portrait-edit/shared';
import { FaceTracker, readImage } from '@portrait-edit/models';
import { joinAs as joinAsIn, launchChromium, presetButton, statsAt, tilePixelsIn, waitFor, waitForEdited } from '../src/browser.js';
import { webcamY4m } from '../src/fixtures.js';
import { createRoom, startTestServer } from '../src/server-harness.js';

// Issue 6 (b): the viewpoint slider re-renders the head on the receiver's side, measured with
// the face tracker run here on frames grabbed from the receiver's page; and the streamer's
// transparent background on the view-only page.

let server: RunningServer;
let browser: Browser;
const tracker = new FaceTracker({ maxFaces: 1 });

beforeAll(async () => {
  // These tests judge prompts and views, not hang detection (the fault test does): on a shared,
  // busy 2-core machine a slow frame can delay a worker's report past the default 1 s.
  server = await startTestServer('editor', { heartbeatMs: 10_000 });
  browser = await launchChromium(webcamY4m());
  await tracker.init();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const joinAs = (name: string, token: string, roomId: string) => joinAsIn(browser, server.url, name, token, roomId);

async function watchOwnSettings(page: Page): Promise<void> {
  await page.evaluate(() => {
    const pe = (window as any).__pe;
    pe.call.sig.socket.on('peerSettings', (m: { peerId: string; settings: unknown }) => {
      if (m.peerId === pe.peerId) (window as any).__own = m.settings;
    });
  });
}
const ownSettings = (page: Page): Promise<FilterSettings | null> => page.evaluate(() => (window as any).__own ?? null);

/** Moves a panel slider the way dragging does: a new value and an input event. */
async function setSlider(page: Page, name: string, value: number): Promise<void> {
  await page.evaluate(([n, v]) => {
    const el = document.querySelector(`input[name="${n}"]`) as HTMLInputElement;
    el.value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, [name, value] as const);
}

/** The frame B's tile for `peerId` shows now, as a lossless PNG. */
async function grab(page: Page, peerId: string): Promise<Buffer | null> {
  const url: string | null = await page.evaluate((id) => {
    const v: HTMLVideoElement | undefined = (window as any).__pe.tiles.get(id)?.video;
    if (!v || !v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext('2d')!.drawImage(v, 0, 0);
    return c.toDataURL('image/png');
  }, peerId);
  return url ? Buffer.from(url.slice(url.indexOf(',') + 1), 'base64') : null;
}

/** Frames B's tile has decoded so far. */
const decodedFrames = (page: Page, peerId: string): Promise<number> =>
  page.evaluate((id) => (window as any).__pe.tiles.get(id)?.video.getVideoPlaybackQuality().totalVideoFrames ?? 0, peerId);

/**
 * Tracker yaw on up to 5 distinct received frames made after a settings change: frames in
 * flight when it was taken (the filter's latency, a slow machine's few fps) are let through
 * first, and a frame shown twice is measured once.
 */
async function yawsAfterChange(page: Page, peerId: string): Promise<number[]> {
  const n0 = await decodedFrames(page, peerId);
  await waitFor('new frames at the receiver', async () => (await decodedFrames(page, peerId)) >= n0 + 4, 60_000, 100);
  const ys: number[] = [];
  let last: Buffer | null = null;
  for (let k = 0; k < 40 && ys.length < 5; k++) {
    const png = await grab(page, peerId);
    if (png && !(last && png.equals(last))) {
      last = png;
      const y = await measuredYaw(png);
      if (y !== null) ys.push(y);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return ys;
}

/** Head yaw the tracker measures on one received frame (fresh track: no smoothing across frames). */
async function measuredYaw(png: Buffer): Promise<number | null> {
  tracker.reset();
  const r = await tracker.track(await readImage(png));
  return r.faces[0]?.poseRaw.yaw ?? null;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};

function ranks(xs: number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  order.forEach(([, i], k) => (r[i] = k));
  return r;
}

/** Spearman rank correlation (no ties expected among the measured medians). */
function spearman(a: number[], b: number[]): number {
  const ra = ranks(a), rb = ranks(b), n = a.length;
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += (ra[i] - rb[i]) ** 2;
  return 1 - (6 * d2) / (n * (n * n - 1));
}

describe('viewpoint and background, live (real editor)', () => {
  test('moving the yaw slider from −25° to +25° turns the head the receiver sees, monotonically', async () => {
    const room = await createRoom(server.url);
    const a = await joinAs('turner', room.hostToken, room.roomId);
    const b = await joinAs('watcher', room.guestToken, room.roomId);
    await watchOwnSettings(a.page);
    await (await presetButton(a.page, 'sepia')).click();
    await a.page.getByTestId('filter-toggle').check();
    await waitForEdited(b.page, a.peerId);

    const steps = [-25, -15, -5, 5, 15, 25];
    const medians: number[] = [];
    for (const yaw of steps) {
      // The slider, as a user drags it (input events, coalesced by the panel).
      await setSlider(a.page, 'yaw', yaw);
      await waitFor(`yaw ${yaw} to be taken`, async () => (await ownSettings(a.page))?.view.yaw === yaw, 20_000, 20);
      await new Promise((r) => setTimeout(r, 1200));
      // A busy machine can cost a frame or a worker restart; measure edited frames only.
      const before = await statsAt(b.page, a.peerId);
      if (before?.passthroughReason) console.log(`yaw ${yaw}: filter says "${before.passthroughReason}" (${before.state}); waiting for edited frames`);
      await waitFor(`edited frames at yaw ${yaw}`, async () => {
        const s = await statsAt(b.page, a.peerId);
        return s?.state === 'running' && s.passthroughReason === null;
      }, 120_000);
      const ys = await yawsAfterChange(b.page, a.peerId);
      expect(ys.length, `a face at the receiver at yaw ${yaw}`).toBeGreaterThanOrEqual(3);
      medians.push(median(ys));
      console.log(`yaw setting ${yaw}: tracker yaw at the receiver ${ys.map((y) => y.toFixed(1)).join(', ')}`);
    }
    const rho = spearman(steps, medians);
    const range = Math.max(...medians) - Math.min(...medians);
    console.log(`yaw setting ${steps.join(', ')} → tracker yaw at the receiver ${medians.map((m) => m.toFixed(1)).join(', ')} (Spearman ${rho.toFixed(2)}, range ${range.toFixed(1)}°)`);
    expect(Math.abs(rho)).toBeGreaterThanOrEqual(0.9);
    expect(range).toBeGreaterThan(8);

    // "Face the camera" renders the head frontal whatever the pose: near 0° at the receiver.
    await setSlider(a.page, 'yaw', 0);
    await a.page.evaluate(() => (document.querySelector('input[name="frontalize"]') as HTMLInputElement).click());
    await waitFor('frontalize to be taken', async () => (await ownSettings(a.page))?.view.frontalize === true, 20_000, 20);
    await new Promise((r) => setTimeout(r, 1200));
    const fy = await yawsAfterChange(b.page, a.peerId);
    console.log(`face the camera: tracker yaw at the receiver ${fy.map((y) => y.toFixed(1)).join(', ')}`);
    expect(fy.length).toBeGreaterThanOrEqual(3);
    expect(Math.abs(median(fy))).toBeLessThan(Math.max(Math.abs(medians[0]), Math.abs(medians[medians.length - 1])));

    await a.page.context().close();
    await b.page.context().close();
  }, 480_000);

  test('"Cut out my background": the receiver keys it out, the view-only page is transparent outside the person', async () => {
    const room = await createRoom(server.url);
    const a = await joinAs('streamer', room.hostToken, room.roomId);
    const b = await joinAs('guest', room.guestToken, room.roomId);
    await watchOwnSettings(a.page);
    await (await presetButton(a.page, 'sepia')).click();
    await a.page.getByTestId('filter-toggle').check();
    // A DOM click, then the server's word: Playwright's check() races the panel re-showing the
    // settings the server confirms for the previous change.
    await a.page.evaluate(() => (document.querySelector('[data-testid="background-key"]') as HTMLInputElement).click());
    await waitFor('background key taken', async () => (await ownSettings(a.page))?.background === 'key', 20_000, 20);

    const viewerToken: string = await a.page.evaluate(async () => (await (window as any).__pe.call.sig.request({ type: 'createViewerLink' })).token);
    const viewer = await (await browser.newContext()).newPage();
    await viewer.goto(`${server.url}/?view=1&transparent=1&room=${room.roomId}&token=${viewerToken}`);

    // The video itself carries the key colour outside the person (VP8 has no alpha)...
    const keyed = await waitFor('key colour in the received video', async () => {
      // the server's key colour (pure green) survives VP8 as g > 170, r and b < 100
      const px = await tilePixelsIn(b.page, a.peerId, { min: [0, 171, 0], max: [99, 255, 99] });
      const f = px && px.n / px.total;
      return f !== null && f > 0.1 ? f : null;
    }, 240_000);

    // ...and the view-only page shows it transparent (alpha 0) while the person stays opaque.
    const alpha = await waitFor('a transparent background on the view page', async () => {
      const r = await viewer.evaluate((id) => {
        const tile = (window as any).__pe.tiles.get(id);
        const c: HTMLCanvasElement | null = tile?.el.querySelector('canvas.keyed') ?? null;
        const v: HTMLVideoElement = tile?.video;
        // Drawn at the video's size once the keyer has had a frame (a fresh canvas is 300×150).
        if (!c || !v?.videoWidth || c.width !== v.videoWidth) return null;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let clear = 0, centreOpaque = 0, centre = 0;
        for (let y = 0; y < c.height; y++) {
          for (let x = 0; x < c.width; x++) {
            const a = d[(y * c.width + x) * 4 + 3];
            if (a === 0) clear++;
            if (Math.abs(x - c.width / 2) < c.width / 10 && Math.abs(y - c.height / 2) < c.height / 10) {
              centre++;
              if (a === 255) centreOpaque++;
            }
          }
        }
        const bg = getComputedStyle(document.body).backgroundColor;
        return { clear: clear / (c.width * c.height), centreOpaque: centreOpaque / centre, bg };
      }, a.peerId);
      return r && r.clear > 0.1 ? r : null;
    }, 30_000);
    console.log(`key colour in ${(keyed * 100).toFixed(0)}% of the received frame; view page: ${(alpha.clear * 100).toFixed(0)}% transparent, centre ${(alpha.centreOpaque * 100).toFixed(0)}% opaque, page background ${alpha.bg}`);
    expect(alpha.centreOpaque).toBeGreaterThan(0.8);
    expect(alpha.bg).toMatch(/rgba\(0, 0, 0, 0\)|transparent/);
    // The call tile keys it too, over a neutral backdrop.
    expect(await b.page.evaluate((id) => (window as any).__pe.tiles.get(id)?.el.classList.contains('keying'), a.peerId)).toBe(true);

    await viewer.context().close();
    await a.page.context().close();
    await b.page.context().close();
  }, 420_000);
});
