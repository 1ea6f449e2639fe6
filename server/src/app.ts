import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server as IoServer } from 'socket.io';
import { MAX_MESSAGE_BYTES } from '@portrait-edit/shared';
import { RoomTokens } from './auth/room-token.js';
import { loadConfig, type ServerConfig } from './config.js';
import type { PipelineResources } from './filter/filter-pipeline.js';
import { FilterWorkerPool } from './filter/filter-worker-pool.js';
import { PortAllocator } from './filter/port-allocator.js';
import { createApi } from './http/api.js';
import { corsHeaders, originAllowed } from './http/origin.js';
import { serveStatic } from './http/static-files.js';
import { WorkerPool } from './media/worker-pool.js';
import { RoomRegistry } from './room-registry.js';
import { attachSignalling } from './signalling/signalling-server.js';
import { UploadStore } from './uploads/upload-store.js';
import { faceCheck, warmFaceCheck } from './uploads/face-check.js';

export interface RunningServer {
  url: string;
  config: ServerConfig;
  tokens: RoomTokens;
  registry: RoomRegistry;
  resources: () => ServerResources;
  /** True once a warm spare filter worker has its processor initialised (false: none, or it failed). */
  spareReady: () => Promise<boolean>;
  /** What the mediasoup workers report: routers still alive, worker pids. */
  workerDump: () => Promise<{ routers: number; workerPids: number[] }>;
  close: () => Promise<void>;
}

export interface ServerResources {
  rooms: number;
  peers: number;
  transports: number;
  producers: number;
  consumers: number;
  filterSlotsUsed: number;
  /**
   * Every process the filter pipelines hold: their filter worker processes and the ffmpeg
   * decoders/encoders those run (the name predates the workers). Empty when no filter runs.
   */
  ffmpegPids: number[];
  /** The filter worker processes among them. */
  filterWorkerPids: number[];
  /** The warm spare worker(s), waiting with the processor initialised; not a leak. */
  spareWorkerPids: number[];
  /** Per pipeline: peer, state, worker/decoder/encoder pids, decoder port. */
  filterPipelines: PipelineResources[];
  decoderPortsAllocated: number;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Starts the SFU, signalling and HTTP server. */
export async function startServer(overrides: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const config = loadConfig(overrides);
  const clientDist = config.clientDist ?? path.resolve(HERE, '../../client/dist');
  const workers = new WorkerPool({ count: config.numWorkers, rtcMinPort: config.rtcMinPort, rtcMaxPort: config.rtcMaxPort });
  await workers.start();
  const ports = new PortAllocator(config.ffmpegMinPort, config.ffmpegMaxPort);
  const slots = { used: 0 };
  const filterWorkers = new FilterWorkerPool({ processor: config.processor, heartbeatMs: config.heartbeatMs });
  // The spare starts in the background: turning a filter on never waits for a process.
  filterWorkers.warm();
  const uploads = new UploadStore();
  uploads.setFaceCheck(faceCheck);
  // Reference uploads are for the editor; warm their face check with it, in the background.
  if (config.processor === 'editor') warmFaceCheck().catch(() => {});
  const tokens = new RoomTokens(config.tokenSecret);
  const registry = new RoomRegistry(workers, { config, ports, slots, uploads, tokens, filterWorkers, workers }, config);

  const resources = (): ServerResources => {
    const rooms = registry.liveRooms().map((r) => r.resources());
    const fw = filterWorkers.resources();
    const sum = (k: 'peers' | 'transports' | 'producers' | 'consumers') => rooms.reduce((n, r) => n + r[k], 0);
    return {
      rooms: rooms.length,
      peers: sum('peers'),
      transports: sum('transports'),
      producers: sum('producers'),
      consumers: sum('consumers'),
      filterSlotsUsed: slots.used,
      ffmpegPids: [...fw.workerPids, ...fw.ffmpegPids],
      filterWorkerPids: fw.workerPids,
      spareWorkerPids: fw.sparePids,
      filterPipelines: rooms.flatMap((r) => r.filterPipelines),
      decoderPortsAllocated: ports.allocated,
    };
  };
  const api = createApi({
    config,
    tokens,
    registry,
    uploads,
    resources,
    health: () => ({ ok: true, workers: workers.size, rooms: registry.liveRooms().length, processor: config.processor }),
  });

  const httpServer = http.createServer((req, res) => {
    if (req.url?.startsWith('/api/')) {
      // A page from another site may not drive the API from a visitor's browser.
      if (!originAllowed(config, req)) {
        res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'FORBIDDEN', message: 'origin not allowed' } }));
        return;
      }
      for (const [k, v] of Object.entries(corsHeaders(config, req))) res.setHeader(k, v);
      if (req.method === 'OPTIONS') {
        res.writeHead(204).end();
        return;
      }
    }
    void api(req, res).then((handled) => {
      if (!handled) serveStatic(clientDist, req, res);
    });
  });
  const io = new IoServer(httpServer, {
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    cors: { origin: config.allowedOrigins === '*' ? true : config.allowedOrigins === 'same-origin' ? false : config.allowedOrigins },
    allowRequest: (req, cb) => {
      const ok = originAllowed(config, req);
      cb(ok ? null : 'origin not allowed', ok);
    },
  });
  attachSignalling(io, tokens, registry, { connectionsPerMinute: config.connectionsPerMinute });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const addr = httpServer.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;

  return {
    url,
    config,
    tokens,
    registry,
    resources,
    spareReady: () => filterWorkers.spareReady(),
    workerDump: () => workers.dump(),
    close: async () => {
      io.close();
      registry.closeAll();
      // Give pipelines a moment to stop their workers and ffmpeg children, then stop the rest.
      const t0 = Date.now();
      const busy = () => filterWorkers.resources();
      while ((busy().workerPids.length || busy().ffmpegPids.length) && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 50));
      await filterWorkers.close();
      // Style-training jobs: stop the trainer processes (nothing half-trained is installed).
      await api.adapt.close();
      workers.close();
      await new Promise<void>((r) => httpServer.close(() => r()));
    },
  };
}
