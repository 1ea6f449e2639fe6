import type { types } from 'mediasoup';
import type { Socket } from 'socket.io';
import { DEFAULT_FILTER_SETTINGS, type FilterSettings, type PeerInfo, type TokenPayload } from '@portrait-edit/shared';
import { ClientError } from './errors.js';

/** A participant: one socket, its transports, producers, consumers and filter settings. */
export class Peer {
  joined = false;
  displayName = '';
  rtpCapabilities: types.RtpCapabilities | null = null;
  settings: FilterSettings = structuredClone(DEFAULT_FILTER_SETTINGS);
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Map<string, types.Consumer>();

  constructor(
    readonly id: string,
    readonly socket: Socket,
    readonly role: TokenPayload['role'],
  ) {}

  get rawVideo(): types.Producer | undefined {
    for (const p of this.producers.values()) if (p.kind === 'video') return p;
    return undefined;
  }

  info(): PeerInfo {
    return { id: this.id, displayName: this.displayName, role: this.role, settings: this.settings };
  }

  /** One of this peer's consumers, or a NOT_FOUND client error. */
  consumer(id: string): types.Consumer {
    const c = this.consumers.get(id);
    if (!c) throw new ClientError('NOT_FOUND', `no consumer ${id}`);
    return c;
  }

  transport(id: string, direction?: 'send' | 'recv'): types.WebRtcTransport {
    const t = this.transports.get(id);
    if (!t) throw new ClientError('NOT_FOUND', `no transport ${id}`);
    if (direction && t.appData.direction !== direction) {
      throw new ClientError('BAD_REQUEST', `transport ${id} is not a ${direction} transport`);
    }
    return t;
  }

  /** Closing the transports closes every producer and consumer on them. */
  close(): void {
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
  }
}
