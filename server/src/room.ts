import type { types } from 'mediasoup';
import {
  applySettingsPatch,
  type ClientRequest,
  type FilterStats,
  type ServerEvents,
  type StreamInfo,
} from '@portrait-edit/shared';
import type { ServerConfig } from './config.js';
import { ClientError } from './errors.js';
import { FilterController } from './filter/filter-controller.js';
import type { FilterWorkerPool } from './filter/filter-worker-pool.js';
import type { PortAllocator } from './filter/port-allocator.js';
import type { Peer } from './peer.js';
import type { UploadStore } from './uploads/upload-store.js';
import type { RoomTokens } from './auth/room-token.js';
import { RouterGroup } from './media/router-group.js';
import type { WorkerPool } from './media/worker-pool.js';

export interface RoomDeps {
  config: ServerConfig;
  ports: PortAllocator;
  slots: { used: number };
  uploads: UploadStore;
  filterWorkers: FilterWorkerPool;
  tokens: RoomTokens;
  /** mediasoup workers, for rooms that outgrow one router (see RouterGroup). */
  workers?: WorkerPool;
}

/**
 * A call: one mediasoup router (on one worker) and the peers in it. The room owns its peers'
 * transports and filter controllers, answers their signalling requests, and tells every peer
 * which producer carries each participant's audio and video.
 */
export class Room {
  readonly peers = new Map<string, Peer>();
  private readonly filters = new Map<string, FilterController>();
  private statsTimer: NodeJS.Timeout;
  closed = false;
  /** Unix seconds; viewer links never outlive the room. */
  expiresAt = Number.MAX_SAFE_INTEGER;
  /** The routers this room spans (its own, plus satellites on other workers once it is big). */
  readonly routers: RouterGroup;

  constructor(
    readonly id: string,
    readonly router: types.Router,
    private readonly releaseRouter: () => void,
    private readonly deps: RoomDeps,
  ) {
    this.statsTimer = setInterval(() => this.pushStats(), 1000);
    this.routers = new RouterGroup(router, deps.workers, deps.config.maxPeersPerRouter);
  }

  addPeer(peer: Peer): void {
    this.peers.set(peer.id, peer);
  }

  async handle(peer: Peer, req: ClientRequest): Promise<unknown> {
    if (req.type !== 'getRouterRtpCapabilities' && req.type !== 'join' && req.type !== 'ping' && !peer.joined) {
      throw new ClientError('NOT_JOINED', 'join the room first');
    }
    switch (req.type) {
      case 'ping':
        return { t: Date.now() };
      case 'getRouterRtpCapabilities':
        return this.router.rtpCapabilities;
      case 'join':
        return this.join(peer, req.displayName, req.rtpCapabilities as types.RtpCapabilities);
      case 'createTransport':
        return this.createTransport(peer, req.direction);
      case 'connectTransport': {
        // mediasoup allows one connect() per transport; a second is the client's mistake.
        const t = peer.transport(req.transportId);
        if (t.appData.connectCalled) throw new ClientError('BAD_REQUEST', `transport ${t.id} is already connected`);
        t.appData.connectCalled = true;
        try {
          await t.connect({ dtlsParameters: req.dtlsParameters as unknown as types.DtlsParameters });
        } catch (err) {
          t.appData.connectCalled = false;
          throw err;
        }
        return {};
      }
      case 'produce':
        return this.produce(peer, req);
      case 'consume':
        return this.consume(peer, req.transportId, req.producerId);
      case 'resumeConsumer': {
        const c = peer.consumer(req.consumerId);
        await c.resume();
        if (c.kind === 'video') await c.requestKeyFrame();
        return {};
      }
      case 'pauseConsumer': {
        const c = peer.consumer(req.consumerId);
        await c.pause();
        return {};
      }
      case 'closeConsumer': {
        const c = peer.consumer(req.consumerId);
        c.close();
        peer.consumers.delete(c.id);
        return {};
      }
      case 'closeProducer': {
        const p = peer.producers.get(req.producerId);
        if (!p) throw new ClientError('NOT_FOUND', `no producer ${req.producerId}`);
        p.close();
        peer.producers.delete(p.id);
        this.onProducerGone(peer, p.kind);
        return {};
      }
      case 'createViewerLink': {
        if (peer.role === 'viewer') throw new ClientError('FORBIDDEN', 'viewers cannot make viewer links');
        const exp = Math.min(Math.floor(Date.now() / 1000) + this.deps.config.tokenTtlSeconds, this.expiresAt);
        return { token: this.deps.tokens.sign({ room: this.id, role: 'viewer', exp, peer: peer.id }) };
      }
      case 'presetThumbnails': {
        if (peer.role === 'viewer') throw new ClientError('FORBIDDEN', 'viewers have no filter');
        try {
          return { images: await this.filterOf(peer).thumbnails(req.presets) };
        } catch (err) {
          if (err instanceof ClientError) throw err;
          throw new ClientError('UNSUPPORTED', (err as Error).message);
        }
      }
      case 'setFilter': {
        if (peer.role === 'viewer') throw new ClientError('FORBIDDEN', 'viewers cannot set a filter');
        // A participant's filter is theirs; only the host may change someone else's.
        const target = req.peerId === undefined || req.peerId === peer.id ? peer : this.peers.get(req.peerId);
        if (!target || !target.joined) throw new ClientError('NOT_FOUND', `no participant ${req.peerId}`);
        if (target !== peer && peer.role !== 'host') throw new ClientError('FORBIDDEN', "only the host may change another participant's filter");
        if (target !== peer) return this.setFilterOf(target, req.settings);
        const prompt = req.settings.prompt;
        if (prompt?.kind === 'image' && !this.deps.uploads.get(this.id, prompt.uploadId)) {
          throw new ClientError('NOT_FOUND', 'unknown reference image: upload it again');
        }
        const before = peer.settings;
        peer.settings = applySettingsPatch(peer.settings, req.settings);
        this.filterOf(peer).sync(JSON.stringify(before) !== JSON.stringify(peer.settings));
        this.broadcast(null, 'peerSettings', { peerId: peer.id, settings: peer.settings });
        return { settings: peer.settings };
      }
    }
  }

  private setFilterOf(peer: Peer, patch: Extract<ClientRequest, { type: 'setFilter' }>['settings']) {
    if (patch.prompt?.kind === 'image' && !this.deps.uploads.get(this.id, patch.prompt.uploadId)) {
      throw new ClientError('NOT_FOUND', 'unknown reference image: upload it again');
    }
    const before = peer.settings;
    peer.settings = applySettingsPatch(peer.settings, patch);
    this.filterOf(peer).sync(JSON.stringify(before) !== JSON.stringify(peer.settings));
    this.broadcast(null, 'peerSettings', { peerId: peer.id, settings: peer.settings });
    return { settings: peer.settings };
  }

  private join(peer: Peer, displayName: string, caps: types.RtpCapabilities) {
    if (peer.joined) throw new ClientError('ALREADY_JOINED', 'already joined');
    peer.joined = true;
    peer.displayName = displayName;
    peer.rtpCapabilities = caps;
    this.filters.set(peer.id, new FilterController(peer, this.filterDeps(peer)));
    const others = [...this.peers.values()].filter((p) => p !== peer && p.joined);
    this.broadcast(peer, 'peerJoined', peer.info());
    return {
      peerId: peer.id,
      peers: others.map((p) => p.info()),
      streams: others.flatMap((p) => this.streamsOf(p)),
    };
  }

  private filterDeps(peer: Peer) {
    return {
      router: this.router,
      config: this.deps.config,
      ports: this.deps.ports,
      workers: this.deps.filterWorkers,
      slots: this.deps.slots,
      announce: (s: StreamInfo) => {
        if (s.kind === 'video' && !s.processed) this.resumeStandby(s.producerId);
        this.broadcast(null, 'streamAvailable', s);
        // Fresh stats with the switch, so nobody sees the new stream with the old numbers.
        const st = this.filters.get(peer.id)?.stats();
        if (st) this.broadcast(null, 'filterStats', st);
      },
      notice: (level: 'info' | 'warn' | 'error', message: string) => peer.socket.emit('notice', { level, message }),
      resolveReference: (uploadId: string) => this.deps.uploads.get(this.id, uploadId)?.image,
    };
  }

  private filterOf(peer: Peer): FilterController {
    const f = this.filters.get(peer.id);
    if (!f) throw new ClientError('NOT_JOINED', 'join the room first');
    return f;
  }

  /** What the others should consume for this peer: audio as is, video raw or processed. */
  private streamsOf(peer: Peer): StreamInfo[] {
    const out: StreamInfo[] = [];
    for (const p of peer.producers.values()) {
      if (p.kind === 'audio') out.push({ peerId: peer.id, kind: 'audio', producerId: p.id, processed: false });
    }
    const v = this.filters.get(peer.id)?.currentVideo();
    if (v) out.push(v);
    return out;
  }

  private async createTransport(peer: Peer, direction: 'send' | 'recv') {
    if (peer.transports.size >= 4) throw new ClientError('FORBIDDEN', 'too many transports');
    if (direction === 'send' && peer.role === 'viewer') throw new ClientError('FORBIDDEN', 'viewers cannot publish');
    const cfg = this.deps.config;
    const router = await this.routers.routerFor(peer.id);
    const t = await router.createWebRtcTransport({
      listenInfos: [
        { protocol: 'udp', ip: cfg.rtcListenIp, announcedAddress: cfg.rtcAnnouncedIp },
        { protocol: 'tcp', ip: cfg.rtcListenIp, announcedAddress: cfg.rtcAnnouncedIp },
      ],
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData: { direction },
    });
    peer.transports.set(t.id, t);
    t.on('dtlsstatechange', (s) => {
      if (s === 'failed' || s === 'closed') t.close();
    });
    t.observer.once('close', () => peer.transports.delete(t.id));
    return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
  }

  private async produce(peer: Peer, req: Extract<ClientRequest, { type: 'produce' }>) {
    if (peer.role === 'viewer') throw new ClientError('FORBIDDEN', 'viewers cannot publish');
    for (const p of peer.producers.values()) {
      if (p.kind === req.kind) throw new ClientError('FORBIDDEN', `already publishing ${req.kind}`);
    }
    const t = peer.transport(req.transportId, 'send');
    const producer = await t.produce({
      kind: req.kind,
      rtpParameters: req.rtpParameters as unknown as types.RtpParameters,
      appData: { peerId: peer.id, ...(req.videoSize ?? {}) },
    });
    peer.producers.set(producer.id, producer);
    try {
      await this.routers.producerMade(producer, peer.id);
    } catch (err) {
      producer.close();
      peer.producers.delete(producer.id);
      throw err;
    }
    producer.observer.once('close', () => {
      if (peer.producers.delete(producer.id)) this.onProducerGone(peer, producer.kind);
    });
    if (producer.kind === 'video') {
      const f = this.filterOf(peer);
      this.broadcast(peer, 'streamAvailable', f.currentVideo()!);
      f.sync();
    } else {
      this.broadcast(peer, 'streamAvailable', { peerId: peer.id, kind: 'audio', producerId: producer.id, processed: false });
    }
    return { producerId: producer.id };
  }

  private onProducerGone(peer: Peer, kind: 'audio' | 'video'): void {
    if (kind === 'video') this.filters.get(peer.id)?.sync();
    this.broadcast(peer, 'streamClosed', { peerId: peer.id, kind });
  }

  private async consume(peer: Peer, transportId: string, producerId: string) {
    const t = peer.transport(transportId, 'recv');
    const owner = this.producerOwner(producerId);
    if (!owner) throw new ClientError('NOT_FOUND', `no producer ${producerId} in this room`);
    if (owner.peer === peer && !owner.processed) throw new ClientError('BAD_REQUEST', 'cannot consume your own raw stream');
    const router = await this.routers.prepareConsume(peer.id, producerId);
    if (!peer.rtpCapabilities || !router.canConsume({ producerId, rtpCapabilities: peer.rtpCapabilities })) {
      throw new ClientError('UNSUPPORTED', 'your browser cannot receive this stream');
    }
    if (peer.consumers.size >= 64) throw new ClientError('FORBIDDEN', 'too many consumers');
    const consumer = await t.consume({ producerId, rtpCapabilities: peer.rtpCapabilities, paused: true });
    peer.consumers.set(consumer.id, consumer);
    const gone = () => {
      if (peer.consumers.delete(consumer.id)) peer.socket.emit('consumerClosed', { consumerId: consumer.id });
    };
    consumer.on('producerclose', gone);
    consumer.on('transportclose', () => peer.consumers.delete(consumer.id));
    return {
      consumerId: consumer.id,
      producerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      peerId: owner.peer.id,
      processed: owner.processed,
    };
  }

  private producerOwner(producerId: string): { peer: Peer; processed: boolean } | null {
    for (const p of this.peers.values()) {
      if (p.producers.has(producerId)) return { peer: p, processed: false };
      const v = this.filters.get(p.id)?.currentVideo();
      if (v?.processed && v.producerId === producerId) return { peer: p, processed: true };
    }
    return null;
  }

  async removePeer(peer: Peer): Promise<void> {
    if (!this.peers.delete(peer.id)) return;
    const f = this.filters.get(peer.id);
    this.filters.delete(peer.id);
    peer.close();
    this.routers.leave(peer.id);
    if (peer.joined) this.broadcast(peer, 'peerLeft', { peerId: peer.id });
    await f?.close();
  }

  /** Current stats of every filtered stream in the room. */
  filterStats(): FilterStats[] {
    return [...this.filters.values()].map((f) => f.stats()).filter((s): s is FilterStats => s !== null);
  }

  private pushStats(): void {
    for (const [peerId, f] of this.filters) {
      const s = f.stats();
      if (s && this.peers.has(peerId)) this.broadcast(null, 'filterStats', s);
    }
  }

  /**
   * Back to a raw stream (filter off or failed): the receivers' paused standby consumers of it
   * (client/src/call.ts) resume now rather than a client round trip later, so the keyframe the
   * restart or this request asks for already reaches them. The clients' own resume is then a no-op.
   */
  private resumeStandby(producerId: string): void {
    for (const p of this.peers.values()) {
      for (const c of p.consumers.values()) {
        if (c.producerId === producerId && c.paused && !c.closed) void c.resume().then(() => c.requestKeyFrame()).catch(() => {});
      }
    }
  }

  private broadcast<E extends keyof ServerEvents>(except: Peer | null, event: E, ...args: Parameters<ServerEvents[E]>): void {
    for (const p of this.peers.values()) {
      if (p !== except && p.joined) p.socket.emit(event, ...args);
    }
  }

  resources() {
    const fr = [...this.filters.values()].map((f) => f.resources());
    return {
      peers: this.peers.size,
      transports: [...this.peers.values()].reduce((n, p) => n + p.transports.size, 0),
      producers: [...this.peers.values()].reduce((n, p) => n + p.producers.size, 0),
      consumers: [...this.peers.values()].reduce((n, p) => n + p.consumers.size, 0),
      ffmpegPids: fr.flatMap((r) => r.pids),
      ports: fr.flatMap((r) => r.ports),
      filterPipelines: fr.flatMap((r) => r.pipelines),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.statsTimer);
    for (const p of [...this.peers.values()]) void this.removePeer(p);
    this.routers.close();
    this.releaseRouter();
  }
}
