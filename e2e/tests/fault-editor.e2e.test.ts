import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '@portrait-edit/server';
import { joinAs as joinAsIn, launchChromium, presetButton, statsAt, waitFor, waitForEdited } from '../src/browser.js';
import { webcamY4m } from '../src/fixtures.js';
import { signal } from '../src/processes.js';
import { createRoom, startTestServer } from '../src/server-harness.js';
import { loadSlack } from '../src/load-slack.js';
import { recordMilestones } from '../src/pipeline-timeline.js';

// Issue 8's fault test with the real 3DPE editor in the filter worker (the other fault test
// uses the test effect, whose pixels prove every stage): the editor's worker process is
// killed, then hung, mid-call; the receiver must get A's raw video within 2 s and A's edited
// video again within 5 s of the restart (from the warm spare, which has the editor loaded).

const HEARTBEAT_MS = 1000;
const RAW_WITHIN_MS = 2000;
const EDITED_WITHIN_MS = 5000;

let server: RunningServer;
let browser: Browser;
const milestones = recordMilestones();

beforeAll(async () => {
  server = await startTestServer('editor', { heartbeatMs: HEARTBEAT_MS });
  browser = await launchChromium(webcamY4m());
}, 180_000);

afterAll(async () => {
  milestones.stop();
  await browser?.close();
  await server?.close();
});

const pipelineOf = (peerId: string) =>
  server.resources().filterPipelines.find((p) => p.peerId === peerId && (p.state === 'starting' || p.state === 'running')) ?? null;

async function showsRaw(page: Page, peerId: string): Promise<boolean> {
  return (await page.evaluate((id) => (window as any).__pe.tiles.get(id)?.processed, peerId)) === false;
}

describe('editor faults, end to end in Chromium', () => {
  test('the editor\'s worker killed, then hung: raw at the receiver within 2 s, edited again within 5 s of the restart', async () => {
    const room = await createRoom(server.url);
    const a = await joinAsIn(browser, server.url, 'alice', room.hostToken, room.roomId);
    const b = await joinAsIn(browser, server.url, 'bob', room.guestToken, room.roomId);
    await (await presetButton(a.page, 'sepia')).click();
    await a.page.getByTestId('filter-toggle').check();
    await waitForEdited(b.page, a.peerId, 120_000);

    const results: Record<string, { rawMs: number; restartMs: number; editedMs: number }> = {};
    for (const fault of ['worker', 'hang'] as const) {
      const before = await waitFor('A\'s pipeline running', async () => {
        const p = pipelineOf(a.peerId);
        return p?.state === 'running' && p.workerPid ? p : null;
      }, 30_000);
      await waitForEdited(b.page, a.peerId, 60_000);
      // From a steady call: the restart takes the warm spare (its editor loaded). After the
      // first fault used it, the next spare loads the editor (seconds under this test's load).
      await waitFor('a warm spare filter worker', () => server.spareReady(), 120_000);
      const t0 = Date.now();
      signal(before.workerPid!, fault === 'worker' ? 'SIGKILL' : 'SIGSTOP');
      const k = loadSlack('editor fault test');
      await waitFor(`${fault}: B to show A raw`, () => showsRaw(b.page, a.peerId), RAW_WITHIN_MS * k + 3000, 50);
      const rawMs = Date.now() - t0;
      if (fault === 'hang') signal(before.workerPid!, 'SIGKILL');
      await waitFor(`${fault}: A's pipeline to restart`, async () => {
        const p = pipelineOf(a.peerId);
        return p && p.workerPid !== before.workerPid ? p : null;
      }, 20_000);
      const restartMs = Date.now() - t0;
      await waitForEdited(b.page, a.peerId, EDITED_WITHIN_MS * k + 5000);
      const editedMs = Date.now() - t0;
      results[fault] = { rawMs, restartMs, editedMs };
      console.log(`editor fault ${fault}: raw at B after ${rawMs} ms, restart began after ${restartMs} ms, edited at B again after ${editedMs} ms (${editedMs - restartMs} ms after the restart); server: ${milestones.timeline(a.peerId, t0)}; A's stats: ${JSON.stringify(await statsAt(b.page, a.peerId))}`);
      expect(rawMs, `${fault}: raw within ${RAW_WITHIN_MS * k} ms (server: ${milestones.timeline(a.peerId, t0)})`).toBeLessThanOrEqual(RAW_WITHIN_MS * k);
      expect(editedMs - restartMs, `${fault}: edited within ${EDITED_WITHIN_MS * k} ms of the restart (server: ${milestones.timeline(a.peerId, t0)})`).toBeLessThanOrEqual(EDITED_WITHIN_MS * k);
    }
    console.table(results);
    await a.page.context().close();
    await b.page.context().close();
    await waitFor('server to free everything', async () => {
      const r = server.resources();
      return r.peers === 0 && r.ffmpegPids.length === 0 && r.filterWorkerPids.length === 0 ? r : null;
    }, 20_000);
  }, 300_000);
});
