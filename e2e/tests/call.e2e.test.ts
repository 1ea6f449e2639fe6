import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '@portrait-edit/server';
import { launchChromium, overlayPixels, tileColour, waitFor } from '../src/browser.js';
import { joinAs as joinAsIn } from '../src/browser.js';
import { webcamY4m } from '../src/fixtures.js';
import { createRoom, pidAlive, startTestServer } from '../src/server-harness.js';

let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  server = await startTestServer('test-invert');
  browser = await launchChromium(webcamY4m());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const joinAs = (name: string, token: string, roomId: string) => joinAsIn(browser, server.url, name, token, roomId);

/** What B shows for A: processed flag and mean colour of the centre. */
let lastView = '';
async function remoteView(page: Page, peerId: string) {
  const processed = await page.evaluate((id) => (window as any).__pe.tiles.get(id)?.processed ?? null, peerId);
  const colour = await tileColour(page, peerId);
  lastView = JSON.stringify({ processed, colour });
  return { processed, colour };
}

// Skin under the test effect (channel inversion) turns blue: B > R. Raw skin has R > B.
const looksInverted = (c: { r: number; b: number } | null) => !!c && c.b > c.r + 20;
const looksRaw = (c: { r: number; b: number } | null) => !!c && c.r > c.b + 20;

describe('the call loop, end to end in Chromium', () => {
  test('B receives A\'s processed stream, toggling switches it, leaving frees everything', async () => {
    const room = await createRoom(server.url);
    const a = await joinAs('alice', room.hostToken, room.roomId);
    const b = await joinAs('bob', room.guestToken, room.roomId);

    // Raw video first: the filter is off by default.
    await waitFor('B to show A raw', async () => {
      const v = await remoteView(b.page, a.peerId);
      return v.processed === false && looksRaw(v.colour);
    }, 15_000);

    // Filter on: B must switch to the processed stream, and its pixels must carry the effect.
    const t0 = Date.now();
    await a.page.getByTestId('filter-toggle').check();
    await waitFor('B to show A processed', async () => {
      const v = await remoteView(b.page, a.peerId);
      return v.processed === true && looksInverted(v.colour);
    }, 5_000).catch((e) => {
      throw new Error(`${e.message}; last view ${lastView}`);
    });
    const firstProcessedMs = Date.now() - t0;
    console.log(`processed stream visible at the receiver ${firstProcessedMs} ms after enabling the filter`);

    const stats = await waitFor('filter stats at B', () => b.page.evaluate((id) => (window as any).__pe.stats.get(id), a.peerId), 5_000);
    expect(stats.processor).toBe('test-invert');
    expect(stats.fpsIn).toBeGreaterThan(0);

    // Off again: back to raw pixels.
    await a.page.getByTestId('filter-toggle').uncheck();
    await waitFor('B to show A raw again', async () => {
      const v = await remoteView(b.page, a.peerId);
      return v.processed === false && looksRaw(v.colour);
    }, 8_000);

    // And on once more.
    await a.page.getByTestId('filter-toggle').check();
    await waitFor('B to show A processed again', async () => {
      const v = await remoteView(b.page, a.peerId);
      return v.processed === true && looksInverted(v.colour);
    }, 8_000);

    // The tracker overlay, chosen in the panel, shows up on the receiver's side.
    const before = await overlayPixels(b.page, a.peerId);
    await a.page.locator('input[name="debugOverlay"]').check();
    const withOverlay = await waitFor('tracker overlay at B', async () => {
      const n = await overlayPixels(b.page, a.peerId);
      return n > before + 150 ? n : null;
    }, 30_000);
    console.log(`overlay mesh pixels at the receiver: ${before} → ${withOverlay}`);
    await a.page.locator('input[name="debugOverlay"]').uncheck();

    const during = server.resources();
    expect(during.ffmpegPids.length).toBeGreaterThanOrEqual(2);
    const pids = [...during.ffmpegPids];

    // A vanishes: everything A held on the server must go.
    await a.page.context().close();
    const after = await waitFor('server to free A', async () => {
      const r = server.resources();
      return r.peers === 1 && r.ffmpegPids.length === 0 && r.filterSlotsUsed === 0 && r.decoderPortsAllocated === 0 ? r : null;
    }, 10_000);
    expect(after.transports).toBe(2); // B's send + recv
    expect(after.producers).toBe(2); // B's audio + video
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
    await waitFor('B to drop A\'s tile', () => b.page.evaluate((id) => !(window as any).__pe.tiles.has(id), a.peerId), 5_000);

    await b.page.context().close();
    await waitFor('room to close', async () => server.resources().rooms === 0, 5_000);
  }, 120_000);
});

describe('view-only page (OBS browser source)', () => {
  test('a signed viewer link shows just the participant\'s edited stream and cannot publish', async () => {
    const room = await createRoom(server.url);
    const a = await joinAs('streamer', room.hostToken, room.roomId);
    await a.page.getByTestId('filter-toggle').check();
    const viewerToken: string = await a.page.evaluate(async () => (await (window as any).__pe.call.sig.request({ type: 'createViewerLink' })).token);
    const viewer = await (await browser.newContext()).newPage();
    await viewer.goto(`${server.url}/?view=1&room=${room.roomId}&token=${viewerToken}`);
    await waitFor('viewer to show the edited stream', async () => {
      const c = await tileColour(viewer, a.peerId);
      return (await viewer.evaluate((id) => (window as any).__pe.tiles.get(id)?.processed, a.peerId)) && looksInverted(c);
    }, 15_000);
    // The viewer is not a participant: no tile for it on the streamer's page, no publishing.
    expect(await a.page.evaluate(() => (window as any).__pe.tiles.size)).toBe(2); // self + own edited preview
    const refused = await viewer.evaluate(async () => {
      try {
        await (window as any).__pe.call.sig.request({ type: 'createTransport', direction: 'send' });
        return 'allowed';
      } catch (e) {
        return (e as { code: string }).code;
      }
    });
    expect(refused).toBe('FORBIDDEN');
    await viewer.context().close();
    await a.page.context().close();
  }, 60_000);
});
