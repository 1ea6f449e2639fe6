import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, describe, expect, test } from 'vitest';
import { DEFAULT_FILTER_SETTINGS } from '@portrait-edit/shared';
import { FilterWorkerPool, processRunning, type FilterWorker } from '../src/filter/filter-worker-pool.js';
import { TimeMatcher } from '../src/filter/rolling-stats.js';
import type { FromWorker, WorkerTick } from '../src/filter/worker-protocol.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const W = 64;
const H = 48;

async function until<T>(what: string, f: () => T | null | undefined | false, ms = 8000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A UDP socket standing in for the processed producer: counts the encoder's RTP packets. */
async function rtpSink(): Promise<{ port: number; packets: () => number; close: () => void }> {
  const s = dgram.createSocket('udp4');
  let n = 0;
  s.on('message', () => n++);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const rtcp = dgram.createSocket('udp4');
  await new Promise<void>((r) => rtcp.bind(s.address().port + 1, '127.0.0.1', () => r())).catch(() => {});
  return { port: s.address().port, packets: () => n, close: () => (s.close(), rtcp.close()) };
}

/** A VP8 RTP source (ffmpeg test pattern) standing in for the raw consumer. */
function rtpSource(port: number) {
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `testsrc=size=${W}x${H}:rate=15`, '-t', '20',
    '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-g', '15', '-f', 'rtp', '-payload_type', '101', `rtp://127.0.0.1:${port}?rtcpport=${port + 1}&pkt_size=1200`], { stdio: 'ignore' });
  return { stop: () => child.kill('SIGKILL') };
}

function freePortPair(): number {
  return 46000 + 2 * Math.floor(Math.random() * 1000);
}

function messages(w: FilterWorker): FromWorker[] {
  const got: FromWorker[] = [];
  w.on('message', (m: FromWorker) => got.push(m));
  return got;
}

function startMsg(decPort: number, sinkPort: number) {
  return {
    type: 'start' as const,
    width: W,
    height: H,
    ffmpegPath: 'ffmpeg',
    decoder: { port: decPort, payloadType: 101 },
    encoder: { width: W, height: H, rtpPort: sinkPort, rtcpPort: sinkPort + 1, ssrc: 1234, payloadType: 101, bitrateKbps: 200, keyframeSeconds: 1 },
    ctx: { peerId: 'p', settings: { ...DEFAULT_FILTER_SETTINGS, enabled: true } },
  };
}

const pool = new FilterWorkerPool({ processor: 'test-invert' });
afterAll(() => pool.close());

describe('filter worker process', () => {
  test('a warm spare is handed out initialised, runs the frame loop, reports over IPC, stops clean', async () => {
    pool.warm();
    const spare = await until('a spare', () => pool.resources().sparePids[0]);
    const w = await pool.acquire('test-invert');
    expect(w.pid).toBe(spare);
    expect(await w.initialised).toBe('test-invert');
    // Taking the spare starts the next one.
    await until('a new spare', () => pool.resources().sparePids.find((p) => p !== w.pid));

    const got = messages(w);
    const sink = await rtpSink();
    const decPort = freePortPair();
    w.send(startMsg(decPort, sink.port));
    const src = rtpSource(decPort);
    try {
      const pids = await until('pids', () => got.find((m): m is Extract<FromWorker, { type: 'pids' }> => m.type === 'pids'));
      expect(pool.resources().ffmpegPids.sort()).toEqual([pids.decoder, pids.encoder].sort());
      await until('encoded RTP at the sink', () => sink.packets() > 5);
      const ticks = () => got.filter((m): m is WorkerTick => m.type === 'tick');
      const t = await until('a tick with frames', () => ticks().find((m) => m.encoded.length >= 2 && m.loop && m.loop.framesOut > 0));
      expect(t.loop!.passthroughReason).toBeNull(); // test-invert edits every frame
      // Frame times are absolute (timeOrigin-based): comparable with this process's clock.
      const now = performance.timeOrigin + performance.now();
      expect(Math.abs(now - t.encoded[1])).toBeLessThan(5000);
      expect(t.encoded[1]).toBeGreaterThanOrEqual(t.encoded[0]);

      // A settings change reaches the worker and its switch time is reported.
      w.send({ type: 'settings', ctx: { peerId: 'p', settings: { ...DEFAULT_FILTER_SETTINGS, enabled: true, strength: 0.5 } }, at: performance.timeOrigin + performance.now() });
      await until('switch time', () => ticks().some((m) => m.lastSwitchMs !== null));

      await w.stop();
      expect(processRunning(w.pid)).toBe(false);
      for (const p of [pids.decoder!, pids.encoder!]) expect(processRunning(p)).toBe(false);
      expect(pool.resources().workerPids).toEqual([]);
      expect(pool.resources().ffmpegPids).toEqual([]);
    } finally {
      src.stop();
      sink.close();
    }
  });

  test('a dying decoder is reported; a killed worker leaves no ffmpeg behind', async () => {
    for (const fault of ['decoder', 'worker'] as const) {
      const w = await pool.acquire('test-invert');
      const got = messages(w);
      const sink = await rtpSink();
      const decPort = freePortPair();
      w.send(startMsg(decPort, sink.port));
      const src = rtpSource(decPort);
      try {
        const pids = await until('pids', () => got.find((m): m is Extract<FromWorker, { type: 'pids' }> => m.type === 'pids'));
        await until('frames', () => sink.packets() > 0);
        const died = new Promise<string | null>((r) => w.once('died', (_c, sig) => r(sig)));
        if (fault === 'decoder') {
          process.kill(pids.decoder!, 'SIGKILL');
          const f = await until('failed', () => got.find((m): m is Extract<FromWorker, { type: 'failed' }> => m.type === 'failed'));
          expect(f.reason).toMatch(/decoder exited/);
          await w.stop();
        } else {
          process.kill(w.pid, 'SIGKILL');
          expect(await died).toBe('SIGKILL');
          await w.gone;
        }
        for (const p of [w.pid, pids.decoder!, pids.encoder!]) expect(processRunning(p), `${fault}: pid ${p}`).toBe(false);
        expect(pool.resources().ffmpegPids).toEqual([]);
      } finally {
        src.stop();
        sink.close();
      }
    }
  });

  test('a spare that hangs before it is initialised is given up on and killed', async () => {
    const p2 = new FilterWorkerPool({ processor: 'test-invert', initTimeoutMs: 1500 });
    try {
      p2.warm();
      const pid = await until('a spare', () => p2.resources().sparePids[0]);
      process.kill(pid, 'SIGSTOP');
      await expect(p2.acquire('test-invert')).rejects.toThrow(/did not initialise/);
      await until('the hung worker killed', () => !processRunning(pid));
      await until('the pool to forget it', () => p2.resources().workerPids.length === 0);
    } finally {
      await p2.close();
    }
  });

  test('a spare that dies while waiting is replaced', async () => {
    pool.warm();
    const first = await until('a spare', () => pool.resources().sparePids[0]);
    const w = await pool.acquire('test-invert'); // makes sure `first` (or its successor) was initialised
    await w.stop();
    const spare = await until('the next spare', () => pool.resources().sparePids[0]);
    expect(await pool.spareReady()).toBe(true); // only a spare that was ready is replaced
    process.kill(spare, 'SIGKILL');
    const next = await until('a replacement spare', () => pool.resources().sparePids.find((p) => p !== spare), 10_000);
    expect(next).not.toBe(first);
    expect(processRunning(spare)).toBe(false);
  });

  test('an unknown processor fails acquire with the registry\'s message, leaving nothing', async () => {
    await expect(pool.acquire('no-such-processor')).rejects.toThrow(/unknown processor/);
    await until('no workers in use', () => pool.resources().workerPids.length === 0);
  });
});

describe('TimeMatcher', () => {
  test('pairs starts and ends in order, whichever side arrives late', () => {
    const got: number[][] = [];
    const m = new TimeMatcher((s, p, e) => got.push([s, p, e]));
    m.end(15); // end before its start is known (the start comes in a batch)
    m.start(10, 1);
    m.start(20, 2);
    m.end(26);
    m.end(5); // stale: before every pending start... dropped once a start is pending
    m.start(30, 3);
    m.end(2000); // 30 lost its end long ago
    expect(got).toEqual([[10, 1, 15], [20, 2, 26]]);
  });

  test('"latest" pairs an end with the newest start before it, so lost inputs never shift later matches', () => {
    const got: number[][] = [];
    const m = new TimeMatcher((s, _p, e) => got.push([s, e]), 1000, 16, 'latest');
    for (const t of [0, 66, 133, 200]) m.start(t); // packets of frames before the first keyframe
    m.end(205); // the keyframe's frame
    m.start(266);
    m.start(333); // this one is lost
    m.start(400);
    m.end(404);
    m.end(420); // no start of its own left: dropped
    expect(got).toEqual([[200, 205], [400, 404]]);
  });
});
