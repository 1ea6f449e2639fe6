import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '@portrait-edit/server';
import { launchChromium, tileColour, waitFor } from '../src/browser.js';
import { joinAs as joinAsIn } from '../src/browser.js';
import { webcamY4m } from '../src/fixtures.js';
import { processRunning, signal } from '../src/processes.js';
import { createRoom, startTestServer } from '../src/server-harness.js';
import { loadSlack } from '../src/load-slack.js';
import { recordMilestones } from '../src/pipeline-timeline.js';

// Faults in one participant's filter: its ffmpeg decoder dies, its ffmpeg encoder dies, its
// filter worker process (the one running the frame processor) dies, its filter worker hangs.
// Each time the receiver must fall back to the raw stream quickly, get the processed stream
// back after the restart, and nothing else may notice. The room spans two mediasoup workers
// (one participant per router), so every stream here also crosses a pipeToRouter pair; and the
// server's cap is two edited streams, so a third participant is refused, stays raw and is told why.

/** A worker silent this long is taken as hung (PE_HEARTBEAT_MS; the default). */
const HEARTBEAT_MS = 1000;
/** Fault → receiver shows raw pixels, for a crash (decoder or worker). */
const RAW_WITHIN_MS = 2000;
/** Restart begun → receiver shows processed pixels again. */
const PROCESSED_WITHIN_MS = 5000;

let server: RunningServer;
let browser: Browser;

/** The server's pipeline milestones, so a slow recovery says which step was slow. */
const milestones = recordMilestones();
const timeline = milestones.timeline;

beforeAll(async () => {
  server = await startTestServer('test-invert', { numWorkers: 2, maxPeersPerRouter: 1, maxFilteredStreams: 2, heartbeatMs: HEARTBEAT_MS });
  browser = await launchChromium(webcamY4m());
}, 120_000);

afterAll(async () => {
  milestones.stop();
  await browser?.close();
  await server?.close();
});

const joinAs = (name: string, token: string, roomId: string) => joinAsIn(browser, server.url, name, token, roomId);

// Skin under the test effect (channel inversion) turns blue: B > R. Raw skin has R > B.
const looksInverted = (c: { r: number; b: number } | null) => !!c && c.b > c.r + 20;
const looksRaw = (c: { r: number; b: number } | null) => !!c && c.r > c.b + 20;

let lastView = '';
async function shows(page: Page, peerId: string, want: 'raw' | 'processed'): Promise<boolean> {
  const processed = await page.evaluate((id) => (window as any).__pe.tiles.get(id)?.processed ?? null, peerId);
  const colour = await tileColour(page, peerId);
  lastView = JSON.stringify({ processed, colour });
  return want === 'raw' ? processed === false && looksRaw(colour) : processed === true && looksInverted(colour);
}

/** When B's client was told of A's new stream, had consumed it, and showed its first frame (ms after t0). */
async function clientSide(page: Page, peerId: string, t0: number): Promise<string> {
  const c = await page.evaluate((id) => {
    const pe = (window as any).__pe;
    return { announced: pe.call?.announcedAt.get(`${id}:video`) ?? null, swap: pe.tiles.get(id)?.lastSwap ?? null };
  }, peerId);
  const rel = (t: number | null | undefined) => (t == null ? '?' : `+${t - t0}`);
  return `announced ${rel(c.announced)}, consumed ${rel(c.swap?.calledAt)}, first frame ${rel(c.swap?.shownAt)}`;
}

/** The live (not failed, not closing) pipeline of a peer, as the server reports it. */
function pipelineOf(peerId: string) {
  return server.resources().filterPipelines.find((p) => p.peerId === peerId && (p.state === 'starting' || p.state === 'running')) ?? null;
}

/** The receiver's page, for what it said (notices) when something times out. */
let receiverPage: Page | null = null;
let faultStart: { peerId: string; t0: number } | null = null;
const withView = async (e: Error) => {
  const steps = faultStart ? `; server timeline (ms after the fault) ${timeline(faultStart.peerId, faultStart.t0)}` : '';
  const notice = await receiverPage?.getByTestId('notice').textContent().catch(() => null);
  throw new Error(`${e.message}; last view ${lastView}; receiver notice ${JSON.stringify(notice)}; pipelines ${JSON.stringify(server.resources().filterPipelines)}${steps}`);
};

describe('filter faults, end to end in Chromium', () => {
  test('decoder, encoder, worker killed, worker hung: B falls back to raw, then gets the edit back; B\'s own filter is untouched; past the cap C stays raw and is told why', async () => {
    const room = await createRoom(server.url);
    const a = await joinAs('alice', room.hostToken, room.roomId);
    const b = await joinAs('bob', room.guestToken, room.roomId);
    receiverPage = b.page;
    await waitFor('B to show A raw', () => shows(b.page, a.peerId, 'raw'), 30_000).catch(withView);
    // A and B are on routers on different mediasoup workers: A's media reaches B through a pipe.
    const spread = server.registry.liveRooms().find((r) => r.id === room.roomId)!.routers.describe();
    expect(spread.satellites.length, JSON.stringify(spread)).toBe(1);
    expect(spread.satellites[0]).not.toBe(spread.home);

    await a.page.getByTestId('filter-toggle').check();
    await waitFor('B to show A processed', () => shows(b.page, a.peerId, 'processed'), 30_000).catch(withView);
    // B's filter runs beside A's: a fault in A's worker must not touch it.
    await b.page.getByTestId('filter-toggle').check();
    const bPipe = await waitFor('B\'s pipeline running', async () => {
      const p = pipelineOf(b.peerId);
      return p?.state === 'running' && p.workerPid ? p : null;
    }, 30_000);

    const seenPids = new Set<number>();
    const results: Record<string, { rawMs: number; restartMs: number; processedMs: number; afterRestartMs: number; limitsX: number }> = {};
    for (const fault of ['decoder', 'encoder', 'worker', 'hang'] as const) {
      const before = await waitFor('A\'s pipeline running', async () => {
        const p = pipelineOf(a.peerId);
        return p?.state === 'running' && p.workerPid && p.decoderPid && p.encoderPid ? p : null;
      }, 15_000);
      for (const pid of before.pids) seenPids.add(pid);
      // Recovery from a steady call: the restart takes the warm spare worker. (Right after a
      // filter starts, or after the previous fault used it, the spare may still be loading: on
      // this machine under this test's own load that adds up to 4 s, measured, not a recovery step.)
      await waitFor('a warm spare filter worker', () => server.spareReady(), 30_000);
      const t0 = Date.now();
      faultStart = { peerId: a.peerId, t0 };
      if (fault === 'decoder') signal(before.decoderPid!, 'SIGKILL');
      else if (fault === 'encoder') signal(before.encoderPid!, 'SIGKILL');
      else if (fault === 'worker') signal(before.workerPid!, 'SIGKILL');
      else signal(before.workerPid!, 'SIGSTOP');

      const k = loadSlack('fault test');
      // A hang is only known once the heartbeat is missed; the 2 s include that.
      const rawLimit = Math.round(RAW_WITHIN_MS * k);
      const processedLimit = Math.round(PROCESSED_WITHIN_MS * k);
      await waitFor(`${fault}: B to show A raw`, () => shows(b.page, a.peerId, 'raw'), rawLimit + 3000, 50).catch(withView);
      const rawMs = Date.now() - t0;
      const rawAtB = await clientSide(b.page, a.peerId, t0);
      if (fault === 'hang') signal(before.workerPid!, 'SIGKILL'); // the server killed it already; make sure

      const restarted = await waitFor(`${fault}: A's pipeline to restart`, async () => {
        const p = pipelineOf(a.peerId);
        return p && p.workerPid !== before.workerPid ? p : null;
      }, 20_000).catch(withView);
      const restartMs = Date.now() - t0;
      await waitFor(`${fault}: B to show A processed again`, () => shows(b.page, a.peerId, 'processed'), processedLimit + 3000, 50).catch(withView);
      const processedMs = Date.now() - t0;
      const processedAtB = await clientSide(b.page, a.peerId, t0);
      results[fault] = { rawMs, restartMs, processedMs, afterRestartMs: processedMs - restartMs, limitsX: Math.round(k * 100) / 100 };
      console.log(`fault ${fault}: raw at B after ${rawMs} ms, restart began after ${restartMs} ms, processed at B again after ${processedMs} ms (${processedMs - restartMs} ms after the restart); server: ${timeline(a.peerId, t0)}; B's client: raw ${rawAtB}, processed ${processedAtB}`);

      expect(rawMs, `${fault}: raw within ${rawLimit} ms (server: ${timeline(a.peerId, t0)}; B's client: ${rawAtB})`).toBeLessThanOrEqual(rawLimit);
      expect(processedMs - restartMs, `${fault}: processed within ${processedLimit} ms of the restart (server: ${timeline(a.peerId, t0)})`).toBeLessThanOrEqual(processedLimit);
      // The faulty pipeline's processes are all gone; B's pipeline never noticed.
      await waitFor(`${fault}: old processes gone`, async () => before.pids.every((p) => !processRunning(p)), 10_000);
      const bNow = pipelineOf(b.peerId);
      expect(bNow?.workerPid, `${fault}: B's worker untouched`).toBe(bPipe.workerPid);
      expect(bNow?.state).toBe('running');
      expect(restarted.workerPid).not.toBe(before.workerPid);
    }
    console.log(`recovery times (ms): ${JSON.stringify(results)}`);
    console.table(results);

    // The cap: A and B hold both edited-stream slots. C's filter is refused gracefully: C's
    // video stays raw for everyone, C's panel says why, and A's and B's streams are untouched.
    const c = await joinAs('carol', room.guestToken, room.roomId);
    await waitFor('B to show C raw', () => shows(b.page, c.peerId, 'raw'), 30_000).catch(withView);
    await c.page.getByTestId('filter-toggle').check();
    const why = await waitFor('C\'s panel to say why', async () => {
      const t = await c.page.getByTestId('panel-status').textContent();
      return t && /capacity/.test(t) ? t : null;
    }, 15_000);
    expect(why).toMatch(/2 streams/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await shows(b.page, c.peerId, 'raw'), lastView).toBe(true);
    expect(pipelineOf(c.peerId)).toBeNull();
    expect(await shows(b.page, a.peerId, 'processed'), lastView).toBe(true);
    expect(server.resources().filterSlotsUsed).toBe(2);
    await c.page.context().close();
    // The SFU kept serving throughout.
    expect((await (await fetch(`${server.url}/api/health`)).json()).ok).toBe(true);

    // Both leave: every worker, ffmpeg, port and slot is freed (the warm spare stays).
    for (const p of server.resources().filterPipelines) for (const pid of p.pids) seenPids.add(pid);
    await a.page.context().close();
    await b.page.context().close();
    const after = await waitFor('server to free everything', async () => {
      const r = server.resources();
      return r.peers === 0 && r.ffmpegPids.length === 0 && r.filterWorkerPids.length === 0 && r.filterSlotsUsed === 0 && r.decoderPortsAllocated === 0 ? r : null;
    }, 20_000);
    expect(after.spareWorkerPids.length).toBeLessThanOrEqual(1);
    for (const pid of seenPids) expect(processRunning(pid), `pid ${pid}`).toBe(false);
    await waitFor('room to close', async () => server.resources().rooms === 0, 10_000);
  }, 240_000);
});
