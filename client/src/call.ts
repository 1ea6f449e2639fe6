import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import type { FilterSettings, FilterSettingsPatch, FilterStats, PeerInfo, StreamInfo } from '@portrait-edit/shared';
import { Signalling } from './signalling.js';

export interface RemoteVideo {
  peerId: string;
  consumer: types.Consumer;
  processed: boolean;
}

export interface CallEvents {
  peerJoined: (p: PeerInfo) => void;
  peerLeft: (peerId: string) => void;
  peerSettings: (peerId: string, s: FilterSettings) => void;
  /** A new consumer for a peer's track; the UI swaps it in once it shows frames. */
  track: (peerId: string, kind: 'audio' | 'video', consumer: types.Consumer, info: StreamInfo) => void;
  trackClosed: (peerId: string, kind: 'audio' | 'video') => void;
  stats: (s: FilterStats) => void;
  notice: (level: string, message: string) => void;
  disconnected: (reason: string) => void;
}

/**
 * One participant's side of a call: joins the room, publishes the camera, and consumes
 * whatever producer the server announces for each participant (raw or processed video).
 */
export class Call {
  readonly sig: Signalling;
  private device = new Device();
  private sendTransport: types.Transport | null = null;
  private recvTransport: types.Transport | null = null;
  private recvReady!: (t: types.Transport) => void;
  /** Streams announced before the receive transport exists wait for it. */
  private recvTransportP = new Promise<types.Transport>((r) => (this.recvReady = r));
  private handlers: Partial<CallEvents> = {};
  /** Consumption requests are serialised per peer+kind so swaps apply in announcement order. */
  private chains = new Map<string, Promise<void>>();
  private consumers = new Map<string, types.Consumer>();
  /**
   * A remote participant's raw video consumer, paused (no media flows) while their edited
   * stream is shown (peerId → consumer). If the filter fails the server announces the raw
   * stream again: resuming this one skips a consume round trip and an SDP renegotiation,
   * so the fallback shows up to a second sooner on a loaded machine.
   */
  private standby = new Map<string, types.Consumer>();
  peerId = '';
  peers = new Map<string, PeerInfo>();
  localStream: MediaStream | null = null;

  constructor(token: string) {
    this.sig = new Signalling(token);
  }

  on<E extends keyof CallEvents>(e: E, f: CallEvents[E]): void {
    this.handlers[e] = f;
  }

  async join(displayName: string, stream: MediaStream | null): Promise<void> {
    const s = this.sig.socket;
    s.on('peerJoined', (p) => {
      this.peers.set(p.id, p);
      this.handlers.peerJoined?.(p);
    });
    s.on('peerLeft', ({ peerId }) => {
      this.peers.delete(peerId);
      this.handlers.peerLeft?.(peerId);
    });
    s.on('peerSettings', ({ peerId, settings }) => {
      const p = this.peers.get(peerId);
      if (p) p.settings = settings;
      this.handlers.peerSettings?.(peerId, settings);
    });
    s.on('streamAvailable', (info) => this.enqueue(info));
    s.on('streamClosed', ({ peerId, kind }) => this.handlers.trackClosed?.(peerId, kind));
    s.on('filterStats', (st) => this.handlers.stats?.(st));
    s.on('notice', ({ level, message }) => this.handlers.notice?.(level, message));
    s.on('consumerClosed', ({ consumerId }) => this.consumers.get(consumerId)?.close());
    s.on('disconnect', (reason) => this.handlers.disconnected?.(String(reason)));

    await this.sig.connected();
    const caps = await this.sig.request<types.RtpCapabilities>({ type: 'getRouterRtpCapabilities' });
    await this.device.load({ routerRtpCapabilities: caps });
    const joined = await this.sig.request<{ peerId: string; peers: PeerInfo[]; streams: StreamInfo[] }>({
      type: 'join',
      displayName,
      rtpCapabilities: this.device.rtpCapabilities as unknown as Record<string, unknown>,
    });
    this.peerId = joined.peerId;
    this.recvTransport = await this.createTransport('recv');
    this.recvReady(this.recvTransport);
    for (const p of joined.peers) {
      this.peers.set(p.id, p);
      this.handlers.peerJoined?.(p);
    }
    for (const st of joined.streams) this.enqueue(st);

    this.localStream = stream;
    if (!stream) return; // view-only: receive, never publish
    this.sendTransport = await this.createTransport('send');
    for (const track of stream.getTracks()) {
      const settings = track.getSettings();
      await this.sendTransport.produce({
        track,
        ...(track.kind === 'video'
          ? { encodings: [{ maxBitrate: 1_200_000 }], appData: { width: settings.width, height: settings.height } }
          : {}),
      });
    }
  }

  private async createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
    const params = await this.sig.request<types.TransportOptions>({ type: 'createTransport', direction });
    const t = direction === 'send' ? this.device.createSendTransport(params) : this.device.createRecvTransport(params);
    t.on('connect', ({ dtlsParameters }, cb, errb) => {
      this.sig
        .request({ type: 'connectTransport', transportId: t.id, dtlsParameters: dtlsParameters as unknown as Record<string, unknown> })
        .then(() => cb(), errb);
    });
    if (direction === 'send') {
      t.on('produce', ({ kind, rtpParameters, appData }, cb, errb) => {
        const size = appData as { width?: number; height?: number };
        this.sig
          .request<{ producerId: string }>({
            type: 'produce',
            transportId: t.id,
            kind,
            rtpParameters: rtpParameters as unknown as Record<string, unknown>,
            ...(kind === 'video' && size.width && size.height ? { videoSize: { width: size.width, height: size.height } } : {}),
          })
          .then(({ producerId }) => cb({ id: producerId }), errb);
      });
    }
    return t;
  }

  /** When the server last announced each peer's stream ('peerId:kind' → Date.now()): recovery timelines in tests. */
  readonly announcedAt = new Map<string, number>();

  private enqueue(info: StreamInfo): void {
    const key = `${info.peerId}:${info.kind}`;
    this.announcedAt.set(key, Date.now());
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.consume(info)).catch((err) => this.handlers.notice?.('warn', `could not receive a stream: ${(err as Error).message}`));
    this.chains.set(key, next);
  }

  private async consume(info: StreamInfo): Promise<void> {
    // Our own raw video is shown from the local camera; our processed one is consumed as a preview.
    if (info.peerId === this.peerId && (!info.processed || info.kind === 'audio')) {
      this.handlers.track?.(info.peerId, info.kind, null as never, info);
      return;
    }
    const held = info.kind === 'video' && !info.processed ? this.standby.get(info.peerId) : undefined;
    if (held) {
      this.standby.delete(info.peerId);
      if (!held.closed && held.producerId === info.producerId) {
        // The tile waits for the first frame itself; the resume (and its keyframe) goes meanwhile.
        const resumed = this.sig.request({ type: 'resumeConsumer', consumerId: held.id });
        this.handlers.track?.(info.peerId, info.kind, held, info);
        await resumed;
        return;
      }
      this.closeConsumer(held);
    }
    const recv = await this.recvTransportP;
    const r = await this.sig.request<{ consumerId: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: types.RtpParameters }>({
      type: 'consume',
      transportId: recv.id,
      producerId: info.producerId,
    });
    // appData: what it carries, for release().
    const consumer = await recv.consume({ id: r.consumerId, producerId: r.producerId, kind: r.kind, rtpParameters: r.rtpParameters, appData: { ...info } });
    this.consumers.set(consumer.id, consumer);
    consumer.observer.once('close', () => {
      this.consumers.delete(consumer.id);
      if (this.standby.get(info.peerId) === consumer) this.standby.delete(info.peerId);
    });
    await this.sig.request({ type: 'resumeConsumer', consumerId: consumer.id });
    this.handlers.track?.(info.peerId, info.kind, consumer, info);
  }

  /**
   * A consumer the UI no longer shows (after a swap). A remote participant's raw video is
   * paused and held in standby (see `standby`); anything else is closed.
   */
  release(c: types.Consumer): void {
    if (c.closed) return;
    const info = c.appData as Partial<StreamInfo>;
    if (info.peerId && info.kind === 'video' && !info.processed && info.peerId !== this.peerId) {
      const old = this.standby.get(info.peerId);
      if (old && old !== c) this.closeConsumer(old);
      this.standby.set(info.peerId, c);
      void this.sig.request({ type: 'pauseConsumer', consumerId: c.id }).catch(() => this.closeConsumer(c));
      return;
    }
    this.closeConsumer(c);
  }

  /** Closes a consumer here and on the server. */
  closeConsumer(c: types.Consumer): void {
    if (c.closed) return;
    c.close();
    void this.sig.request({ type: 'closeConsumer', consumerId: c.id }).catch(() => {});
  }

  setFilter(patch: FilterSettingsPatch): Promise<{ settings: FilterSettings }> {
    return this.sig.request({ type: 'setFilter', settings: patch });
  }

  leave(): void {
    this.localStream?.getTracks().forEach((t) => t.stop());
    this.sendTransport?.close();
    this.recvTransport?.close();
    this.sig.close();
  }
}
