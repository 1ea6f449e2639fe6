// npm run bench — the call loop with glass-to-glass latency, a load test (edited streams added
// until one falls below --threshold-fps, with the editor on and off), prompt switches (tokens
// ready → edited frame out → visible at a receiver), a soak (memory and latency per minute),
// join/leave leak cycles, the editor alone, the face tracker. Prints tables; writes JSON.
// Options: --streams 1  --seconds 20  --processor editor|passthrough|test-invert (default: editor
//          when its model exists)  --prompt '{"kind":"preset","id":"golden-statue"}'
//          --load editor,passthrough  --max-streams 6  --load-seconds 20  --threshold-fps 12
//          --switches 12  --switch-gap-ms 2500
//          --soak-minutes 3  --cycles 10  --fps 15  --skip loop,load,switch,soak,cycles,editor,tracker
//          --view-yaw 0 (a novel view for loop and load: the head turned by that many degrees)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pipelineEvents, startServer, type RunningServer } from '@portrait-edit/server';
import { EDITOR_MODEL } from '@portrait-edit/server/src/config.js';
import type { FilterStats } from '@portrait-edit/shared';
import { REPO_ROOT } from '../src/fixtures.js';
import { createRoom } from '../src/server-harness.js';
import { loadClip } from './clip.js';
import { HeadlessPublisher } from './headless-publisher.js';
import { allStats, q } from './bench-stats.js';
import { startPublishers } from './publishers.js';
import { runSwitchBench } from './switch-bench.js';
import { CORES, cpuSeconds, machineCpu, rssMb } from './proc-usage.js';

const HAVE_EDITOR = fs.existsSync(EDITOR_MODEL);
const { values: opt } = parseArgs({
  options: {
    streams: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '20' },
    'soak-minutes': { type: 'string', default: '3' },
    cycles: { type: 'string', default: '10' },
    processor: { type: 'string', default: HAVE_EDITOR ? 'editor' : 'passthrough' },
    prompt: { type: 'string', default: '{"kind":"preset","id":"golden-statue"}' },
    load: { type: 'string', default: HAVE_EDITOR ? 'editor,passthrough' : 'passthrough' },
    'max-streams': { type: 'string', default: '6' },
    'load-seconds': { type: 'string', default: '20' },
    'threshold-fps': { type: 'string', default: '12' },
    fps: { type: 'string', default: '15' },
    switches: { type: 'string', default: '12' },
    'switch-gap-ms': { type: 'string', default: '2500' },
    skip: { type: 'string', default: '' },
    // a novel view for the loop and load sections (telepresence): the head turned by this many degrees
    'view-yaw': { type: 'string', default: '0' },
  },
});
const skip = new Set(opt.skip!.split(',').filter(Boolean));
const FPS = Number(opt.fps);
const VIEW_YAW = Number(opt['view-yaw']);
if (!Number.isFinite(VIEW_YAW) || Math.abs(VIEW_YAW) > 45) throw new Error('--view-yaw must be a number of degrees within ±45');
const THRESHOLD = Number(opt['threshold-fps']);
/** The prompt publishers set with the filter, for processors that edit only with one. */
const promptFor = (processor: string) => (processor === 'editor' ? opt.prompt! : 'none');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mean = (xs: number[]) => (xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10 : null);
const progress = (msg: string) => process.stderr.write(`\r\x1b[K[bench] ${msg}`);

function machineInfo() {
  return { cpu: os.cpus()[0]?.model ?? '?', cores: CORES, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, gpu: 'none used' };
}

async function waitUntil<T>(what: string, f: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v as T;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function serverPids(server: RunningServer, workerPids: number[]): number[] {
  return [process.pid, ...workerPids, ...server.resources().ffmpegPids];
}

/** Memory right now: the SFU's process (with this harness), its JS heap, mediasoup, the filters. */
function memorySample(server: RunningServer, workerPids: number[]) {
  const filterPids = server.resources().ffmpegPids;
  return {
    sfuRssMb: rssMb(process.pid),
    heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20,
    mediasoupRssMb: workerPids.reduce((a, p) => a + rssMb(p), 0),
    filterRssMb: filterPids.reduce((a, p) => a + rssMb(p), 0),
  };
}
type Memory = ReturnType<typeof memorySample>;
const r1 = (v: number) => Math.round(v * 10) / 10;

/** Least-squares slope of ys against 0..n-1 (growth per step). */
function slope(ys: number[]): number | null {
  const n = ys.length;
  if (n < 2) return null;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += (i - mx) * (ys[i] - my);
    den += (i - mx) ** 2;
  }
  return num / den;
}

interface LoopOptions {
  processor: string;
  /** Run a receiver that reads frame stamps (glass-to-glass); costs client CPU on this machine. */
  receiver: boolean;
}

async function loopRun(server: RunningServer, n: number, seconds: number, label: string, lo: LoopOptions = { processor: opt.processor!, receiver: true }) {
  const { workerPids } = await server.workerDump();
  const room = await createRoom(server.url);
  const loadBefore = os.loadavg()[0];
  const pubs = await startPublishers(server.url, room.hostToken, n, FPS, promptFor(lo.processor), lo.receiver);
  await pubs.send('filter on');
  if (VIEW_YAW !== 0) await pubs.send(`view ${JSON.stringify({ yaw: VIEW_YAW })}`);
  // The editor's workers beyond the warm spare load their models first (seconds each on 2 cores).
  await waitUntil(`${n} pipelines running`, () => {
    const s = allStats(server);
    return s.length === n && s.every((x) => x.state === 'running' && x.fpsOut > 0);
  }, lo.processor === 'editor' ? 60_000 + n * 60_000 : 60_000);
  await sleep(lo.processor === 'editor' ? 5000 : 3000); // warm-up: encoder rate control, first keyframes, first inferences

  const added: number[] = [];
  const perMinute: number[][] = [];
  const onFrame = (e: { addedMs: number }) => {
    added.push(e.addedMs);
    perMinute[perMinute.length - 1]?.push(e.addedMs);
  };
  perMinute.push([]);
  pipelineEvents.on('frame', onFrame);
  // Glass-to-glass (publisher → SFU → receiver), raw vs processed, from frame stamps.
  const g2g: { raw: number[]; processed: number[] }[] = [];
  const drainG2g = async () => {
    const d = JSON.parse(await pubs.send('latency')) as Record<string, number[]>;
    const raw = Object.entries(d).filter(([k]) => k.endsWith(':raw')).flatMap(([, v]) => v);
    const processed = Object.entries(d).filter(([k]) => k.endsWith(':processed')).flatMap(([, v]) => v);
    return { raw, processed };
  };
  await drainG2g(); // forget the warm-up
  g2g.push({ raw: [], processed: [] });
  const snaps: FilterStats[][] = [];
  const snapMinute: number[] = [];
  const mem: Memory[] = [];
  const pids = serverPids(server, workerPids);
  const cpu0 = pids.map(cpuSeconds);
  const pub0 = cpuSeconds(pubs.pid);
  const m0 = machineCpu();
  const rss: number[] = [];
  /** State or pass-through reason changes of any stream, with when (s into the run). */
  const events: { t: number; peer: string; state: string; reason: string | null }[] = [];
  const lastSeen = new Map<string, string>();
  const t0 = Date.now();
  let nextMinute = t0 + 60_000;
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(1000);
    const now = allStats(server);
    for (const st of now) {
      const key = `${st.state}|${st.passthroughReason}`;
      if (lastSeen.get(st.peerId) !== key) {
        lastSeen.set(st.peerId, key);
        const e = { t: Math.round((Date.now() - t0) / 1000), peer: st.peerId.slice(0, 8), state: st.state, reason: st.passthroughReason };
        events.push(e);
        process.stderr.write(`\n[bench] ${label} +${e.t} s: stream ${e.peer} ${e.state}${e.reason ? ` (${e.reason})` : ''}\n`);
      }
    }
    snaps.push(now);
    snapMinute.push(perMinute.length);
    rss.push(serverPids(server, workerPids).reduce((a, p) => a + rssMb(p), 0));
    mem.push(memorySample(server, workerPids));
    if (Date.now() >= nextMinute) {
      const d = await drainG2g();
      g2g[g2g.length - 1].raw.push(...d.raw);
      g2g[g2g.length - 1].processed.push(...d.processed);
      g2g.push({ raw: [], processed: [] });
      perMinute.push([]);
      nextMinute += 60_000;
    }
    progress(`${label}: ${Math.round((Date.now() - t0) / 1000)}/${seconds} s, ${added.length} frames`);
  }
  const wall = (Date.now() - t0) / 1000;
  const cpu1 = pids.map(cpuSeconds);
  const m1 = machineCpu();
  const pub1 = cpuSeconds(pubs.pid);
  pipelineEvents.off('frame', onFrame);
  {
    const d = await drainG2g();
    g2g[g2g.length - 1].raw.push(...d.raw);
    g2g[g2g.length - 1].processed.push(...d.processed);
  }
  const allRaw = g2g.flatMap((m) => m.raw);
  const allProc = g2g.flatMap((m) => m.processed);
  const glass = (raw: number[], proc: number[]) => ({
    rawMedian: q(raw, 0.5),
    processedMedian: q(proc, 0.5),
    processedP95: q(proc, 0.95),
    addedMedian: raw.length && proc.length ? Math.round(((q(proc, 0.5) ?? 0) - (q(raw, 0.5) ?? 0)) * 10) / 10 : null,
    addedP95: raw.length && proc.length ? Math.round(((q(proc, 0.95) ?? 0) - (q(raw, 0.5) ?? 0)) * 10) / 10 : null,
    frames: proc.length,
  });
  await pubs.send('quit');
  await pubs.done;
  await waitUntil('pipelines to stop', () => server.resources().ffmpegPids.length === 0 && server.resources().peers === 0, 15_000);
  process.stderr.write('\n');

  const flat = snaps.flat();
  const col = (k: keyof FilterStats) => flat.map((s) => s[k]).filter((v): v is number => typeof v === 'number');
  const serverCpu = cpu1.reduce((a, v, i) => a + (v - cpu0[i]), 0) / wall;
  // Per stream: its mean output rate; the load test holds a count only if every stream holds.
  const byPeer = new Map<string, number[]>();
  for (const s of flat) (byPeer.get(s.peerId) ?? byPeer.set(s.peerId, []).get(s.peerId)!).push(s.fpsOut);
  const perStreamFps = [...byPeer.values()].map((xs) => mean(xs) ?? 0);
  const pubCores = (pub1 - pub0) / wall;
  const machineCores = ((m1.busy - m0.busy) / (m1.total - m0.total)) * CORES;
  const memMinute = (i: number) => {
    const xs = mem.filter((_, j) => snapMinute[j] === i + 1);
    return xs.length ? xs[xs.length - 1] : null;
  };
  return {
    streams: n,
    seconds: Math.round(wall),
    processor: lo.processor,
    prompt: promptFor(lo.processor) === 'none' ? null : JSON.parse(promptFor(lo.processor)),
    fpsIn: mean(col('fpsIn')),
    fpsOut: mean(col('fpsOut')),
    fpsOutMin: perStreamFps.length ? r1(Math.min(...perStreamFps)) : 0,
    /** Share of per-second samples in which the stream was edited (no pass-through reason). */
    editedShare: flat.length ? r1((flat.filter((s) => s.passthroughReason === null).length / flat.length) * 100) / 100 : 0,
    passthroughReasons: [...new Set(flat.map((s) => s.passthroughReason).filter((r): r is string => !!r))].slice(0, 5),
    decodeMs: mean(col('decodeMs')),
    processMs: mean(col('processMs')),
    /** Pipelined editor: fresh edits per second (frames between them reuse the newest edit). */
    editsPerSec: mean(flat.map((s) => s.editsPerSec).filter((v): v is number => typeof v === 'number')),
    encodeMs: mean(col('encodeMs')),
    addedLatencyMs: { median: q(added, 0.5), p95: q(added, 0.95), frames: added.length },
    glassToGlass: glass(allRaw, allProc),
    perMinute: perMinute
      .map((m, i) => {
        const inMin = snaps.filter((_, j) => snapMinute[j] === i + 1).flat();
        const stage = (k: keyof FilterStats) => mean(inMin.map((x) => x[k]).filter((v): v is number => typeof v === 'number'));
        const g = g2g[i] ? glass(g2g[i].raw, g2g[i].processed) : null;
        const mm = memMinute(i);
        return {
          minute: i + 1, median: q(m, 0.5), p95: q(m, 0.95), frames: m.length, g2gAddedMedian: g?.addedMedian ?? null, g2gAddedP95: g?.addedP95 ?? null,
          decodeMs: stage('decodeMs'), processMs: stage('processMs'), encodeMs: stage('encodeMs'), fpsOut: stage('fpsOut'),
          dropped: inMin.length ? Math.max(...inMin.map((x) => x.dropped)) : 0,
          sfuRssMb: mm ? Math.round(mm.sfuRssMb) : null, heapUsedMb: mm ? Math.round(mm.heapUsedMb) : null,
          mediasoupRssMb: mm ? Math.round(mm.mediasoupRssMb) : null, filterRssMb: mm ? Math.round(mm.filterRssMb) : null,
        };
      })
      // Every minute counts for memory; one with no frames at all is the stream having failed.
      .filter((m, i, all) => m.frames > 0 || i < all.length - 1),
    dropped: flat.length ? Math.max(...col('dropped')) : 0,
    /** Stream state / pass-through reason changes during the run (failures, restarts). */
    events: events.slice(0, 50),
    /**
     * CPU the server side (SFU, mediasoup, filter workers, ffmpeg) spent per frame out, and the
     * streams at --threshold-fps that would fit all cores at that cost: a capacity estimate that
     * holds when other work on a shared machine squeezes the measured rates.
     */
    cpuMsPerFrame: fpsOutTotal(flat, n) > 0 ? Math.round((serverCpu * 1000) / fpsOutTotal(flat, n)) : null,
    estStreamsAtThreshold: fpsOutTotal(flat, n) > 0 ? r1(CORES / ((serverCpu / fpsOutTotal(flat, n)) * THRESHOLD)) : null,
    cpu: {
      serverCoresUsed: Math.round(serverCpu * 100) / 100,
      publishersCoresUsed: Math.round(pubCores * 100) / 100,
      machinePercent: Math.round(((m1.busy - m0.busy) / (m1.total - m0.total)) * 1000) / 10,
      /** Cores busy with neither the server nor the publishers (other work on a shared machine). */
      otherCoresUsed: Math.round(Math.max(0, machineCores - serverCpu - pubCores) * 100) / 100,
      loadAvgBefore: r1(loadBefore),
    },
    serverRssMb: { start: Math.round(rss[0] ?? 0), end: Math.round(rss[rss.length - 1] ?? 0) },
    memory: {
      start: mem[0] ? roundAll(mem[0]) : null,
      end: mem.length ? roundAll(mem[mem.length - 1]) : null,
    },
  };
}

/** Frames per second out of all n streams together (mean of the per-second samples × n). */
function fpsOutTotal(flat: FilterStats[], n: number): number {
  if (!flat.length) return 0;
  return (flat.reduce((a, s) => a + s.fpsOut, 0) / flat.length) * n;
}

function roundAll(m: Memory): Memory {
  return { sfuRssMb: Math.round(m.sfuRssMb), heapUsedMb: Math.round(m.heapUsedMb), mediasoupRssMb: Math.round(m.mediasoupRssMb), filterRssMb: Math.round(m.filterRssMb) };
}

type LoopRow = Awaited<ReturnType<typeof loopRun>>;

/**
 * The load test: 1, 2, 3… edited streams (one publisher each, real clip over WebRTC, no
 * receiver) until a stream's mean output rate falls below the threshold — or, for the editor,
 * until frames stop being edited — and one row past it to show what happens there.
 */
async function loadTest(processor: string, maxStreams: number, seconds: number) {
  const server = await startServer({ port: 0, processor, maxFilteredStreams: maxStreams, debugEndpoints: true });
  const rows: (LoopRow & { held: boolean })[] = [];
  try {
    for (let n = 1; n <= maxStreams; n++) {
      const r = await loopRun(server, n, seconds, `load ${processor} ${n} stream(s)`, { processor, receiver: false });
      const held = r.fpsOutMin >= THRESHOLD && (processor !== 'editor' || r.editedShare >= 0.9);
      rows.push({ ...r, held });
      if (!held) break;
    }
  } finally {
    await server.close();
  }
  const maxHeld = rows.filter((r) => r.held).reduce((m, r) => Math.max(m, r.streams), 0);
  return { processor, thresholdFps: THRESHOLD, maxHeld, rows };
}

function udpSocketsInRange(lo: number, hi: number): number {
  let n = 0;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    if (!fs.existsSync(f)) continue;
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (!local) continue;
      const port = parseInt(local.split(':')[1], 16);
      if (port >= lo && port <= hi) n++;
    }
  }
  return n;
}

function ffmpegCount(): number {
  try {
    return execFileSync('pgrep', ['-x', 'ffmpeg']).toString().trim().split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function cycles(server: RunningServer, count: number) {
  const clip = loadClip('talking-d6.mp4', 640, 480, FPS, 4);
  const cfg = server.config;
  const before = { ffmpeg: ffmpegCount(), udp: udpSocketsInRange(cfg.rtcMinPort, cfg.ffmpegMaxPort) };
  const t0 = Date.now();
  for (let i = 0; i < count; i++) {
    progress(`join/leave cycle ${i + 1}/${count}`);
    const room = await createRoom(server.url);
    const p = await HeadlessPublisher.start(server.url, room.hostToken, `cycle-${i}`, clip, FPS);
    await p.setFilter({ enabled: true });
    await waitUntil('pipeline running', () => allStats(server).some((s) => s.state === 'running'), 20_000).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify({ stats: allStats(server), res: server.resources() })}`);
    });
    p.close();
    await waitUntil('peer gone', () => server.resources().peers === 0, 10_000);
  }
  process.stderr.write('\n');
  await waitUntil('ffmpeg to exit', () => server.resources().ffmpegPids.length === 0, 10_000).catch(() => {});
  await sleep(500);
  const r = server.resources();
  const dump = await server.workerDump();
  const after = { ffmpeg: ffmpegCount(), udp: udpSocketsInRange(cfg.rtcMinPort, cfg.ffmpegMaxPort) };
  return {
    cycles: count,
    seconds: Math.round((Date.now() - t0) / 1000),
    leftBehind: {
      peers: r.peers,
      transports: r.transports,
      producers: r.producers,
      consumers: r.consumers,
      routers: dump.routers,
      ffmpegProcesses: after.ffmpeg - before.ffmpeg,
      udpSocketsInMediaRanges: after.udp - before.udp,
      decoderPorts: r.decoderPortsAllocated,
      filterSlots: r.filterSlotsUsed,
    },
  };
}

function table(rows: Record<string, unknown>[], cols: string[]): string {
  const cells = rows.map((r) => cols.map((c) => String(c.split('.').reduce<any>((o, k) => o?.[k], r) ?? '–')));
  const w = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (xs: string[]) => xs.map((x, i) => x.padStart(w[i])).join('  ');
  return [line(cols), line(w.map((n) => '-'.repeat(n))), ...cells.map(line)].join('\n');
}

const result: Record<string, unknown> = { date: new Date().toISOString(), machine: machineInfo(), fps: FPS, size: '640x480', viewYaw: VIEW_YAW, loadAvgAtStart: os.loadavg().map(r1) };
const streams = opt.streams!.split(',').map(Number);
if (!skip.has('load')) {
  const load: Awaited<ReturnType<typeof loadTest>>[] = [];
  for (const p of opt.load!.split(',').filter(Boolean)) load.push(await loadTest(p, Number(opt['max-streams']), Number(opt['load-seconds'])));
  result.load = load;
  console.log(`\nLoad test: edited streams until one falls below ${THRESHOLD} fps out (640x480@${FPS} fps in, real clip, no receiver; ${CORES} cores shared with whatever else runs)`);
  console.log(table(load.flatMap((l) => l.rows), ['processor', 'streams', 'held', 'fpsOutMin', 'fpsOut', 'editsPerSec', 'editedShare', 'processMs', 'addedLatencyMs.median', 'addedLatencyMs.p95', 'dropped', 'cpu.serverCoresUsed', 'cpu.publishersCoresUsed', 'cpu.otherCoresUsed', 'cpu.loadAvgBefore', 'cpuMsPerFrame', 'estStreamsAtThreshold', 'memory.end.filterRssMb']));
  console.log('(cpuMsPerFrame: server-side CPU per frame out; estStreamsAtThreshold: streams at that cost that would fill all cores at the threshold rate, publishers elsewhere)');
  for (const l of load) {
    const past = l.rows.find((r) => !r.held);
    console.log(`${l.processor}: ${l.maxHeld} stream(s) held at ≥ ${THRESHOLD} fps` + (past ? `; at ${past.streams}: slowest stream ${past.fpsOutMin} fps, ${past.dropped} frames dropped, added latency p95 ${past.addedLatencyMs.p95} ms${past.passthroughReasons.length ? `, pass-through: ${past.passthroughReasons.join('; ')}` : ''}` : ` (stopped at --max-streams ${opt['max-streams']})`));
  }
}
const server = await startServer({ port: 0, processor: opt.processor!, maxFilteredStreams: Math.max(...streams), debugEndpoints: true });
try {
  if (!skip.has('loop')) {
    const rows = [];
    for (const n of streams) rows.push(await loopRun(server, n, Number(opt.seconds), `${n} stream(s)`));
    result.loop = rows;
    console.log(`\nFilter loop, ${opt.processor}, 640x480@${FPS} fps, real clip over WebRTC (headless libwebrtc publishers)`);
    console.log('(addedLatencyMs: the server\'s per-frame decode+loop+encode; glassToGlass: frame stamps read by a receiver, processed minus raw)');
    console.log(table(rows, ['streams', 'fpsIn', 'fpsOut', 'editsPerSec', 'decodeMs', 'processMs', 'encodeMs', 'addedLatencyMs.median', 'addedLatencyMs.p95', 'glassToGlass.rawMedian', 'glassToGlass.processedMedian', 'glassToGlass.addedMedian', 'glassToGlass.addedP95', 'dropped', 'cpu.serverCoresUsed', 'cpu.publishersCoresUsed', 'cpu.machinePercent', 'serverRssMb.end']));
  }
  if (!skip.has('switch') && opt.processor === 'editor' && Number(opt.switches) > 0) {
    const sw = await runSwitchBench(server, { count: Number(opt.switches), gapMs: Number(opt['switch-gap-ms']), fps: FPS, progress });
    process.stderr.write('\n');
    result.switches = sw;
    console.log(`\nPrompt switches on one edited stream (640x480@${FPS} fps, headless publisher and receiver, no browsers): tokens ready → first edited frame out of the filter → the new style settled at the receiver`);
    console.log(table(sw.switches as unknown as Record<string, unknown>[], ['i', 'prompt', 'encodeMs', 'readyToOutMs', 'readyToVisibleMs', 'colourChange']));
    console.log(table([sw.summary], Object.keys(sw.summary)));
  }
  const soakMin = Number(opt['soak-minutes']);
  if (soakMin > 0 && !skip.has('soak')) {
    const soak = await loopRun(server, 1, soakMin * 60, `soak ${soakMin} min`);
    const mins = soak.perMinute;
    const growth = mins.length >= 2 ? (mins[mins.length - 1].g2gAddedP95 ?? mins[mins.length - 1].p95 ?? 0) - (mins[0].g2gAddedP95 ?? mins[0].p95 ?? 0) : null;
    // Growth per minute after the first (warm-up: caches, JIT, allocator pools fill there).
    const steady = mins.slice(1);
    const per = (k: 'sfuRssMb' | 'heapUsedMb' | 'filterRssMb' | 'mediasoupRssMb' | 'p95') => {
      const v = slope(steady.map((m) => m[k] ?? 0));
      return v === null ? null : Math.round(v * 100) / 100;
    };
    const trend = { sfuRssMbPerMin: per('sfuRssMb'), heapUsedMbPerMin: per('heapUsedMb'), filterRssMbPerMin: per('filterRssMb'), mediasoupRssMbPerMin: per('mediasoupRssMb'), p95MsPerMin: per('p95') };
    result.soak = { ...soak, p95GrowthMs: growth, trend };
    console.log(`\nSoak: 1 stream for ${soakMin} min (${opt.processor}); p95 growth last vs first minute: ${growth} ms`);
    console.log(table(mins, ['minute', 'median', 'p95', 'g2gAddedMedian', 'g2gAddedP95', 'frames', 'processMs', 'fpsOut', 'dropped', 'sfuRssMb', 'heapUsedMb', 'mediasoupRssMb', 'filterRssMb']));
    console.log(`memory at start ${JSON.stringify(soak.memory.start)}, at the end ${JSON.stringify(soak.memory.end)} (MB)`);
    console.log(`trend after minute 1 (least squares, per minute): ${JSON.stringify(trend)}`);
  }
  const nCycles = Number(opt.cycles);
  if (nCycles > 0 && !skip.has('cycles')) {
    const c = await cycles(server, nCycles);
    result.cycles = c;
    console.log(`\nJoin/leave: ${c.cycles} cycles with the filter on, in ${c.seconds} s; left behind:`);
    console.log(table([c.leftBehind], Object.keys(c.leftBehind)));
  }
} finally {
  await server.close();
}
if (!skip.has('editor') && HAVE_EDITOR) {
  try {
    // The editor alone at 256², 2 threads: in stages as calls run it (the novel view re-projected
    // through a face mesh's depth) and the whole graph, interleaved, medians of 30.
    const { editorSpeed } = await import('../../models/src/cli/eval.js');
    const e = await editorSpeed(30);
    result.editor = e;
    console.log('\nEditor, 256² in/out, onnxruntime-node 2 threads, ms per frame (median of 30):');
    console.log(table([e as unknown as Record<string, unknown>], Object.keys(e)));
  } catch (err) {
    result.editor = { error: (err as Error).message };
    console.log(`\neditor bench failed: ${(err as Error).message}`);
  }
}

if (!skip.has('tracker')) {
  try {
    const { runTrackerBench } = await import('../../models/bench/tracker-bench.js');
    const t = await runTrackerBench();
    result.tracker = t;
    console.log('\nFace tracker, 640x480, 2-core CPU (TF.js WASM), ms per frame:');
    console.log(table([t as Record<string, unknown>], Object.keys(t)));
  } catch (err) {
    result.tracker = { error: (err as Error).message };
    console.log(`\ntracker bench failed: ${(err as Error).message}`);
  }
}
const outDir = path.join(REPO_ROOT, 'bench-results');
fs.mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, JSON.stringify(result, null, 2));
fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(result, null, 2));
console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
process.exit(0);
