import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import type { FilterStats } from '@portrait-edit/shared';

export const CHROMIUM = process.env.PE_CHROMIUM ?? '/usr/bin/chromium';

/** Debian's Chromium with a file as its webcam; flags as measured in ENVIRONMENT.md. */
export async function launchChromium(y4m: string): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`,
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      // Background tabs must keep decoding video at full rate during the test.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
}

/** Mean R, G, B over the central half of the video a tile currently shows. */
export async function tileColour(page: Page, peerId: string): Promise<{ r: number; g: number; b: number; w: number; h: number } | null> {
  return page.evaluate((id) => {
    const pe = (window as any).__pe;
    const tile = pe.tiles.get(id);
    const v: HTMLVideoElement | undefined = tile?.video;
    if (!v || !v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const ctx = c.getContext('2d', { willReadFrequently: true })!;
    ctx.drawImage(v, 0, 0);
    const x0 = Math.floor(c.width / 4), y0 = Math.floor(c.height / 4);
    const d = ctx.getImageData(x0, y0, Math.floor(c.width / 2), Math.floor(c.height / 2)).data;
    let r = 0, g = 0, b = 0;
    for (let i = 0; i < d.length; i += 4) { r += d[i]; g += d[i + 1]; b += d[i + 2]; }
    const n = d.length / 4;
    return { r: r / n, g: g / n, b: b / n, w: v.videoWidth, h: v.videoHeight };
  }, peerId);
}

export async function waitFor<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < timeoutMs) {
    try {
      const v = await f();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** An RGB box: a pixel is in it when every channel lies within [min, max]. */
export interface ColourBox { min: [number, number, number]; max: [number, number, number] }

/** Pixels of the video a tile shows that fall in `box`, and the frame's pixel count (null before its first frame). */
export async function tilePixelsIn(page: Page, peerId: string, box: ColourBox): Promise<{ n: number; total: number } | null> {
  return page.evaluate(({ id, box }) => {
    const v: HTMLVideoElement | undefined = (window as any).__pe.tiles.get(id)?.video;
    if (!v || !v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const ctx = c.getContext('2d', { willReadFrequently: true })!;
    ctx.drawImage(v, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const [r0, g0, b0] = box.min;
    const [r1, g1, b1] = box.max;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] >= r0 && d[i] <= r1 && d[i + 1] >= g0 && d[i + 1] <= g1 && d[i + 2] >= b0 && d[i + 2] <= b1) n++;
    }
    return { n, total: d.length / 4 };
  }, { id: peerId, box });
}

/** Pixels of the tracker overlay's mesh colour (cyan) in the video a tile shows. */
export async function overlayPixels(page: Page, peerId: string): Promise<number> {
  return (await tilePixelsIn(page, peerId, { min: [0, 191, 191], max: [89, 255, 255] }))?.n ?? 0;
}

/** Opens the app as a participant in a fresh browser context and waits until it has joined. */
export async function joinAs(browser: Browser, baseUrl: string, name: string, token: string, roomId: string): Promise<{ page: Page; peerId: string }> {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error:`, e.message));
  await page.goto(`${baseUrl}/?room=${roomId}&token=${token}&name=${name}`);
  const peerId = await waitFor(`${name} to join`, () => page.evaluate(() => (window as any).__pe.state === 'joined' && (window as any).__pe.peerId), 20_000);
  return { page, peerId };
}

/** The panel's preset button for `id`, once the gallery has it. */
export async function presetButton(page: Page, id: string): Promise<Locator> {
  const button = page.locator(`.presets button[data-preset="${id}"]`);
  await waitFor('the preset gallery', () => button.count(), 10_000);
  return button;
}

/** The filter stats a page's client holds for a participant (the `window.__pe` debug handle). */
export const statsAt = (page: Page, peerId: string): Promise<FilterStats | undefined> =>
  page.evaluate((id) => (window as any).__pe.stats.get(id), peerId);

/** Waits until `page` shows `peerId`'s processed stream with the filter running and editing; the error says what was last seen. */
export async function waitForEdited(page: Page, peerId: string, ms = 240_000): Promise<void> {
  let seen = '';
  await waitFor('B to receive A edited', async () => {
    const processed = await page.evaluate((id) => (window as any).__pe.tiles.get(id)?.processed, peerId);
    const s = await statsAt(page, peerId);
    seen = JSON.stringify({ processed, state: s?.state, reason: s?.passthroughReason, fps: s?.fpsOut });
    return processed && s?.state === 'running' && s.passthroughReason === null;
  }, ms).catch((e) => {
    throw new Error(`${(e as Error).message}; last seen ${seen}`);
  });
}
