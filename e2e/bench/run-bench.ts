// npm run bench — the call loop under load, a soak, join/leave leak cycles, the face tracker.
// Options: --streams 1,2,3  --seconds 20  --soak-minutes 0  --cycles 20  --processor passthrough
//          --fps 15  --skip loop,soak,cycles,tracker
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { pipelineEvents, startServer, type RunningServer } from '@portrait-edit/server';
import type { FilterStats } from '@portrait-edit/shared';
import { REPO_ROOT } from '../src/fixtures.js';
import { createRoom } from '../src/server-harness.js';
import { loadClip } from './clip.js';
import { HeadlessPublisher } from './headless-publisher.js';
import { CORES, cpuSeconds, machineCpu, rssMb } from './proc-usage.js';

const { values: opt } = parseArgs({
  options: {
    streams: { type: 'string', default: '1,2,3' },
    seconds: { type: 'string', default: '20' },
    'soak-minutes': { type: 'string', default: '0' },
    cycles: { type: 'string', default: '20' },
    processor: { type: 'string', default: 'passthrough' },
    fps: { type: 'string', default: '15' },
    skip: { type: 'string', default: '' },
  },
});
const skip = new Set(opt.skip!.split(',').filter(Boolean));
const FPS = Number(opt.fps);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 10) / 10;
};
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

function allStats(server: RunningServer): FilterStats[] {
  return server.registry.liveRooms().flatMap((r) => r.filterStats());
}

/** Publishers in a child process: its CPU is theirs, ours is the server's. */
async function startPublishers(url: string, token: string, n: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'publisher-proc.ts'), url, token, String(n), String(FPS)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    cwd: path.join(REPO_ROOT, 'e2e'),
  });
  const lines = readline.createInterface({ input: child.stdout });
  const next = () => new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (c) => reject(new Error(`publisher process exited (${c})`)));
  });
  const ready = await next();
  if (!ready.startsWith('ready')) throw new Error(`publishers: ${ready}`);
  return {
    pid: child.pid!,
    send: async (cmd: string): Promise<string> => {
      child.stdin.write(`${cmd}\n`);
      return cmd === 'quit' ? '' : next();
    },
    done: new Promise((r) => child.once('exit', r)),
  };
}

function serverPids(server: RunningServer, workerPids: number[]): number[] {
  return [process.pid, ...workerPids, ...server.resources().ffmpegPids];
}

async function loopRun(server: RunningServer, n: number, seconds: number, label: string) {
  const { workerPids } = await server.workerDump();
  const room = await createRoom(server.url);
  const pubs = await startPublishers(server.url, room.hostToken, n);
  await pubs.send('filter on');
  await waitUntil(`${n} pipelines running`, () => {
    const s = allStats(server);
    return s.length === n && s.every((x) => x.state === 'running' && x.fpsOut > 0);
  }, 30_000);
  await sleep(3000); // warm-up: encoder rate control, first keyframes

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
  const pids = serverPids(server, workerPids);
  const cpu0 = pids.map(cpuSeconds);
  const pub0 = cpuSeconds(pubs.pid);
  const m0 = machineCpu();
  const rss: number[] = [];
  const t0 = Date.now();
  let nextMinute = t0 + 60_000;
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(1000);
    snaps.push(allStats(server));
    snapMinute.push(perMinute.length);
    rss.push(pids.reduce((a, p) => a + rssMb(p), 0));
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
  return {
    streams: n,
    seconds: Math.round(wall),
    processor: opt.processor,
    fpsIn: mean(col('fpsIn')),
    fpsOut: mean(col('fpsOut')),
    decodeMs: mean(col('decodeMs')),
    processMs: mean(col('processMs')),
    encodeMs: mean(col('encodeMs')),
    addedLatencyMs: { median: q(added, 0.5), p95: q(added, 0.95), frames: added.length },
    glassToGlass: glass(allRaw, allProc),
    perMinute: perMinute
      .map((m, i) => {
        const inMin = snaps.filter((_, j) => snapMinute[j] === i + 1).flat();
        const stage = (k: keyof FilterStats) => mean(inMin.map((x) => x[k]).filter((v): v is number => typeof v === 'number'));
        const g = g2g[i] ? glass(g2g[i].raw, g2g[i].processed) : null;
        return { minute: i + 1, median: q(m, 0.5), p95: q(m, 0.95), frames: m.length, g2gAddedMedian: g?.addedMedian ?? null, g2gAddedP95: g?.addedP95 ?? null, decodeMs: stage('decodeMs'), processMs: stage('processMs'), encodeMs: stage('encodeMs'), fpsOut: stage('fpsOut'), dropped: inMin.length ? Math.max(...inMin.map((x) => x.dropped)) : 0 };
      })
      .filter((m) => m.frames > 50),
    dropped: flat.length ? Math.max(...col('dropped')) : 0,
    cpu: {
      serverCoresUsed: Math.round(serverCpu * 100) / 100,
      publishersCoresUsed: Math.round(((pub1 - pub0) / wall) * 100) / 100,
      machinePercent: Math.round(((m1.busy - m0.busy) / (m1.total - m0.total)) * 1000) / 10,
    },
    serverRssMb: { start: Math.round(rss[0] ?? 0), end: Math.round(rss[rss.length - 1] ?? 0) },
  };
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

const result: Record<string, unknown> = { date: new Date().toISOString(), machine: machineInfo(), fps: FPS, size: '640x480' };
const streams = opt.streams!.split(',').map(Number);
const server = await startServer({ port: 0, processor: opt.processor!, maxFilteredStreams: Math.max(...streams), debugEndpoints: true });
try {
  if (!skip.has('loop')) {
    const rows = [];
    for (const n of streams) rows.push(await loopRun(server, n, Number(opt.seconds), `${n} stream(s)`));
    result.loop = rows;
    console.log(`\nFilter loop, ${opt.processor}, 640x480@${FPS} fps, real clip over WebRTC (headless libwebrtc publishers)`);
    console.log('(addedLatencyMs: the server\'s per-frame decode+loop+encode; glassToGlass: frame stamps read by a receiver, processed minus raw)');
    console.log(table(rows, ['streams', 'fpsIn', 'fpsOut', 'decodeMs', 'processMs', 'encodeMs', 'addedLatencyMs.median', 'addedLatencyMs.p95', 'glassToGlass.rawMedian', 'glassToGlass.processedMedian', 'glassToGlass.addedMedian', 'glassToGlass.addedP95', 'dropped', 'cpu.serverCoresUsed', 'cpu.publishersCoresUsed', 'cpu.machinePercent', 'serverRssMb.end']));
  }
  const soakMin = Number(opt['soak-minutes']);
  if (soakMin > 0 && !skip.has('soak')) {
    const soak = await loopRun(server, 1, soakMin * 60, `soak ${soakMin} min`);
    const mins = soak.perMinute;
    const growth = mins.length >= 2 ? (mins[mins.length - 1].g2gAddedP95 ?? mins[mins.length - 1].p95 ?? 0) - (mins[0].g2gAddedP95 ?? mins[0].p95 ?? 0) : null;
    result.soak = { ...soak, p95GrowthMs: growth };
    console.log(`\nSoak: 1 stream for ${soakMin} min (${opt.processor}); p95 growth last vs first minute: ${growth} ms`);
    console.log(table(mins, ['minute', 'median', 'p95', 'g2gAddedMedian', 'g2gAddedP95', 'frames', 'decodeMs', 'processMs', 'encodeMs', 'fpsOut', 'dropped']));
    console.log(`server RSS ${soak.serverRssMb.start} → ${soak.serverRssMb.end} MB`);
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
