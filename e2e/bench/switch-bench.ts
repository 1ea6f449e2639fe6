// Prompt switches in a call, timed from the moment the new prompt's tokens are ready to the
// first edited frame leaving the filter (the server's report) and to the new style showing at
// a receiver (its frames' centre colour): issue 6's "visible within 300 ms of its embedding
// being ready", measured on the server's own cores — one headless libwebrtc publisher and one
// receiver in a child process, no browsers taking the cores the editor runs on.
import type { RunningServer } from '@portrait-edit/server';
import type { FilterStats, Prompt } from '@portrait-edit/shared';
import { createRoom } from '../src/server-harness.js';
import { allStats, q } from './bench-stats.js';
import { startPublishers } from './publishers.js';

/**
 * Presets (tokens cached at start-up) and free text (MiniLM on the server the first time)
 * alternating, each far in colour from the one before so its arrival is measurable.
 */
export const SWITCH_PROMPTS: Prompt[] = [
  { kind: 'preset', id: 'golden-statue' },
  { kind: 'text', text: 'a blue skinned alien avatar' },
  { kind: 'preset', id: 'sepia' },
  { kind: 'text', text: 'seen through a heat camera' },
  { kind: 'preset', id: 'marble' },
  { kind: 'text', text: 'frozen in clear ice crystals' },
  { kind: 'preset', id: 'neon' },
  { kind: 'text', text: 'rotting undead skin' },
  { kind: 'preset', id: 'thermal' },
  { kind: 'text', text: 'ancient bronze bust in a museum' },
  { kind: 'preset', id: 'pop-art' },
  { kind: 'text', text: 'charcoal drawing on rough paper' },
];

export interface SwitchRow {
  i: number;
  prompt: string;
  /** Time to encode the prompt (0: cached). */
  encodeMs: number | null;
  /** Tokens ready → first frame edited with them out of the filter. */
  readyToOutMs: number | null;
  /** Tokens ready → the receiver's picture settled near the new style's colour. */
  readyToVisibleMs: number | null;
  /** Distance between the styles' centre colours (YUV); under 6 (or null: no frames) the switch is not measurable. */
  colourChange: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median3 = (xs: number[][]) => [1, 2, 3].map((k) => {
  const v = xs.map((x) => x[k]).sort((a, b) => a - b);
  return v.length ? v[v.length >> 1] : NaN;
});
const dist = (a: number[], b: number[]) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

function lastSwitchOf(server: RunningServer): FilterStats['lastPromptSwitch'] | null {
  return allStats(server)[0]?.lastPromptSwitch ?? null;
}

/**
 * `count` switches `gapMs` apart on one edited stream (editor processor), after a warm-up.
 * "Visible" = the first received frame from which the centre colour stays within half the
 * change of the new style's settled colour (as in the prompts e2e test), until the next switch.
 */
export async function runSwitchBench(server: RunningServer, o: { count: number; gapMs: number; fps: number; progress: (m: string) => void }) {
  const room = await createRoom(server.url);
  const first: Prompt = { kind: 'preset', id: 'pencil-sketch' };
  const pubs = await startPublishers(server.url, room.hostToken, 1, o.fps, JSON.stringify(first), true);
  try {
    await pubs.send('filter on');
    const t0 = Date.now();
    while (!allStats(server).some((s) => s.state === 'running' && s.fpsOut > 0)) {
      if (Date.now() - t0 > 120_000) throw new Error('the edited stream did not start within 120 s');
      await sleep(250);
    }
    await sleep(6000); // first inferences, encoder rate control
    await pubs.send('colours'); // forget the warm-up
    await sleep(1000); // frames in the starting style, before the first switch
    const marks: { prompt: Prompt; readyAt: number; shownAt: number; encodeMs: number; readyToFrameMs: number } [] = [];
    const n = Math.min(o.count, SWITCH_PROMPTS.length);
    for (let i = 0; i < n; i++) {
      const before = lastSwitchOf(server)?.seq ?? -1;
      const issued = Date.now();
      await pubs.send(`prompt ${JSON.stringify(SWITCH_PROMPTS[i])}`);
      let sw = lastSwitchOf(server);
      while (!sw || sw.seq === before || sw.readyAt === undefined) {
        if (Date.now() - issued > 15_000) throw new Error(`switch ${i} (${JSON.stringify(SWITCH_PROMPTS[i])}) not shown within 15 s`);
        await sleep(50);
        sw = lastSwitchOf(server);
      }
      marks.push({ prompt: SWITCH_PROMPTS[i], readyAt: sw.readyAt, shownAt: sw.shownAt, encodeMs: sw.encodeMs, readyToFrameMs: sw.readyToFrameMs });
      o.progress(`prompt switch ${i + 1}/${n}: ready → out ${Math.round(sw.readyToFrameMs)} ms`);
      await sleep(Math.max(0, issued + o.gapMs - Date.now()));
    }
    await sleep(500);
    const colours = Object.values(JSON.parse(await pubs.send('colours')) as Record<string, number[][]>)[0] ?? [];
    const rows: SwitchRow[] = marks.map((m, i) => {
      const end = marks[i + 1]?.readyAt ?? Infinity;
      const pre = median3(colours.filter((c) => c[0] <= m.readyAt - 20).slice(-3));
      const post = median3(colours.filter((c) => c[0] > m.shownAt + 800 && c[0] < end - 50));
      const change = dist(pre, post);
      const after = colours.filter((c) => c[0] > m.readyAt - 20 && c[0] < end);
      let lastFar = -1;
      for (let k = 0; k < after.length; k++) if (dist(after[k].slice(1), post) >= 0.5 * change) lastFar = k;
      const visible = change >= 6 ? after[lastFar + 1] : undefined;
      const label = m.prompt.kind === 'text' ? `text "${m.prompt.text}"` : m.prompt.kind === 'preset' ? `preset ${m.prompt.id}` : 'image';
      return {
        i: i + 1,
        prompt: label,
        encodeMs: Math.round(m.encodeMs),
        readyToOutMs: Math.round(m.readyToFrameMs),
        readyToVisibleMs: visible ? Math.round(visible[0] - m.readyAt) : null,
        colourChange: Number.isFinite(change) ? Math.round(change * 10) / 10 : null,
      };
    });
    // The longest the receiver's picture stood still from the first switch on (a frozen stream).
    let longestGapMs = 0;
    const during = colours.filter((c) => c[0] >= (marks[0]?.readyAt ?? Infinity));
    for (let k = 1; k < during.length; k++) longestGapMs = Math.max(longestGapMs, during[k][0] - during[k - 1][0]);
    const out = rows.map((r) => r.readyToOutMs).filter((v): v is number => v !== null);
    const vis = rows.map((r) => r.readyToVisibleMs).filter((v): v is number => v !== null);
    const stats = allStats(server)[0];
    return {
      switches: rows,
      summary: {
        readyToOutMedian: q(out, 0.5), readyToOutP90: q(out, 0.9), readyToOutMax: out.length ? Math.max(...out) : null,
        readyToVisibleMedian: q(vis, 0.5), readyToVisibleP90: q(vis, 0.9), readyToVisibleMax: vis.length ? Math.max(...vis) : null,
        measured: vis.length, of: rows.length,
        within300: vis.filter((v) => v <= 300).length,
        longestGapMs: Math.round(longestGapMs),
        fpsOut: stats?.fpsOut ?? null, editsPerSec: stats?.editsPerSec ?? null,
      },
    };
  } finally {
    await pubs.send('quit');
    await pubs.done;
  }
}
