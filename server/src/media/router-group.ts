import type { types } from 'mediasoup';
import type { WorkerPool } from './worker-pool.js';

type Router = types.Router;

/**
 * The routers one room uses. A room starts on one router (its home, on the least-loaded
 * mediasoup worker); once the home holds `maxPeersPerRouter` peers, further peers get their
 * transports on a satellite router on another worker, so one big room spans several cores.
 *
 * Media crosses routers with mediasoup's pipeToRouter, always through the home router: every
 * producer made on a satellite is piped home (the filter pipelines and the stats live there),
 * and a consumer on a satellite gets the producer piped from home on first use. Piped
 * producers keep their ids, so the rest of the room never needs to know where a producer
 * lives; a pipe closes with its producer.
 */
export class RouterGroup {
  private readonly satellites: { router: Router; release: () => void; peers: number; workerPid: number }[] = [];
  private homePeers = 0;
  private readonly peerRouter = new Map<string, Router>();
  /** Where each producer was made, for producers made on a satellite. */
  private readonly origin = new Map<string, Router>();
  /** Pipes made or being made, by `${producerId} ${routerId}`. */
  private readonly pipes = new Map<string, Promise<void>>();
  private creating: Promise<Router> | null = null;
  private closed = false;

  constructor(
    readonly home: Router,
    private readonly pool: WorkerPool | undefined,
    private readonly maxPeersPerRouter: number,
  ) {}

  /** The router a peer's transports live on, chosen on its first transport. */
  async routerFor(peerId: string): Promise<Router> {
    const known = this.peerRouter.get(peerId);
    if (known) return known;
    const r = await this.pick();
    if (this.peerRouter.has(peerId)) return this.peerRouter.get(peerId)!;
    this.peerRouter.set(peerId, r);
    if (r === this.home) this.homePeers++;
    else this.satellites.find((s) => s.router === r)!.peers++;
    return r;
  }

  private async pick(): Promise<Router> {
    const max = this.maxPeersPerRouter;
    if (!this.pool || max <= 0 || this.pool.size < 2 || this.homePeers < max) return this.home;
    const open = this.satellites.filter((s) => !s.router.closed && s.peers < max).sort((a, b) => a.peers - b.peers)[0];
    if (open) return open.router;
    // One satellite at a time, so peers joining together share it instead of each making one.
    this.creating ??= this.addSatellite().finally(() => (this.creating = null));
    const r = await this.creating;
    if (r === this.home) return r;
    const s = this.satellites.find((x) => x.router === r);
    return s && s.peers < max ? r : this.pick();
  }

  private async addSatellite(): Promise<Router> {
    const pool = this.pool!;
    const used = [pool.workerOf(this.home), ...this.satellites.map((s) => s.workerPid)].filter((p): p is number => p !== undefined);
    const { router, release, workerPid } = await pool.createRouter(used);
    // pipeToRouter keeps producer ids only across workers: a second router on the home's
    // worker is of no use (the pool had no other worker free of this room): stay home.
    if (workerPid === pool.workerOf(this.home) || this.closed) {
      release();
      return this.home;
    }
    this.satellites.push({ router, release, peers: 0, workerPid });
    return router;
  }

  /** A peer made a producer (on its router): pipe it home if that is a satellite. */
  async producerMade(producer: types.Producer, peerId: string): Promise<void> {
    const router = this.peerRouter.get(peerId) ?? this.home;
    if (router === this.home) return;
    this.origin.set(producer.id, router);
    producer.observer.once('close', () => this.origin.delete(producer.id));
    await this.pipe(producer.id, router, this.home);
  }

  /** Makes `producerId` consumable on `router` (a peer's); returns that router. */
  async prepareConsume(peerId: string, producerId: string): Promise<Router> {
    const router = this.peerRouter.get(peerId) ?? this.home;
    if (router === this.home || this.origin.get(producerId) === router) return router;
    await this.pipe(producerId, this.home, router);
    return router;
  }

  private pipe(producerId: string, from: Router, to: Router): Promise<void> {
    const key = `${producerId} ${to.id}`;
    let p = this.pipes.get(key);
    if (!p) {
      p = from.pipeToRouter({ producerId, router: to }).then(({ pipeProducer, pipeConsumer }) => {
        const forget = () => this.pipes.delete(key);
        pipeProducer?.observer.once('close', forget);
        pipeConsumer?.observer.once('close', forget);
      });
      this.pipes.set(key, p);
      p.catch(() => this.pipes.delete(key));
    }
    return p;
  }

  /** The peer left: its satellite closes once nobody is on it. */
  leave(peerId: string): void {
    const r = this.peerRouter.get(peerId);
    if (!r) return;
    this.peerRouter.delete(peerId);
    if (r === this.home) {
      this.homePeers--;
      return;
    }
    const i = this.satellites.findIndex((s) => s.router === r);
    if (i < 0) return;
    const s = this.satellites[i];
    if (--s.peers <= 0) {
      this.satellites.splice(i, 1);
      s.release();
    }
  }

  /** Routers in use: the home and each satellite, with the worker each runs on. */
  describe(): { home: number | undefined; satellites: number[]; peersPerRouter: number[] } {
    return {
      home: this.pool?.workerOf(this.home),
      satellites: this.satellites.map((s) => s.workerPid),
      peersPerRouter: [this.homePeers, ...this.satellites.map((s) => s.peers)],
    };
  }

  /** The room closed: satellites go (the home router is the room's to release). */
  close(): void {
    this.closed = true;
    for (const s of this.satellites.splice(0)) s.release();
    this.peerRouter.clear();
  }
}
