import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { MEDIA_CODECS } from './media-codecs.js';

/**
 * One mediasoup worker per core; each room gets a router on the least-loaded worker so rooms
 * spread over cores. A worker that dies takes its rooms with it: we log and replace it.
 */
export class WorkerPool {
  private workers: { worker: types.Worker; routers: number }[] = [];
  private closed = false;
  private readonly routerWorker = new WeakMap<types.Router, number>();

  constructor(
    private readonly opts: { count: number; rtcMinPort: number; rtcMaxPort: number },
    private readonly onWorkerDied: (pid: number) => void = () => {},
  ) {}

  async start(): Promise<void> {
    for (let i = 0; i < this.opts.count; i++) this.workers.push({ worker: await this.spawn(), routers: 0 });
  }

  private async spawn(): Promise<types.Worker> {
    const worker = await mediasoup.createWorker({
      logLevel: 'warn',
      rtcMinPort: this.opts.rtcMinPort,
      rtcMaxPort: this.opts.rtcMaxPort,
    });
    worker.on('died', () => {
      if (this.closed) return;
      console.error(`[sfu] mediasoup worker ${worker.pid} died; replacing it`);
      this.onWorkerDied(worker.pid);
      const i = this.workers.findIndex((w) => w.worker === worker);
      void this.spawn().then((w) => {
        if (i >= 0) this.workers[i] = { worker: w, routers: 0 };
      });
    });
    return worker;
  }

  /**
   * A router on the least-loaded worker; `avoid` (worker pids) steers it off workers a room
   * already uses, when there is any other worker.
   */
  async createRouter(avoid: readonly number[] = []): Promise<{ router: types.Router; release: () => void; workerPid: number }> {
    const candidates = this.workers.filter((w) => !avoid.includes(w.worker.pid));
    const slot = (candidates.length ? candidates : this.workers).reduce((a, b) => (b.routers < a.routers ? b : a));
    const router = await slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    slot.routers++;
    this.routerWorker.set(router, slot.worker.pid);
    let released = false;
    return {
      router,
      workerPid: slot.worker.pid,
      release: () => {
        if (released) return;
        released = true;
        slot.routers--;
        router.close();
      },
    };
  }

  /** The pid of the worker a router (made here) runs on. */
  workerOf(router: types.Router): number | undefined {
    return this.routerWorker.get(router);
  }

  /** Routers as the workers themselves report them (leak checks), and the workers' pids. */
  async dump(): Promise<{ routers: number; workerPids: number[] }> {
    let routers = 0;
    for (const { worker } of this.workers) routers += (await worker.dump()).routerIds.length;
    return { routers, workerPids: this.workers.map((w) => w.worker.pid) };
  }

  get size(): number {
    return this.workers.length;
  }

  close(): void {
    this.closed = true;
    for (const w of this.workers) w.worker.close();
    this.workers = [];
  }
}
