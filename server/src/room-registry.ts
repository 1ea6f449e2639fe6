import crypto from 'node:crypto';
import type { ServerConfig } from './config.js';
import { ClientError } from './errors.js';
import type { WorkerPool } from './media/worker-pool.js';
import { Room, type RoomDeps } from './room.js';

/**
 * Rooms exist once created through the API (which hands out their tokens) until they expire.
 * A live Room (router, peers) is made on first join and closed when the last peer leaves.
 */
export class RoomRegistry {
  private readonly known = new Map<string, { expiresAt: number }>();
  private readonly live = new Map<string, Room>();
  private readonly opening = new Map<string, Promise<Room>>();

  constructor(
    private readonly workers: WorkerPool,
    private readonly deps: RoomDeps,
    private readonly config: ServerConfig,
  ) {}

  create(ttlSeconds = this.config.tokenTtlSeconds): { roomId: string; expiresAt: number } {
    this.sweep();
    if (this.known.size >= 10_000) throw new ClientError('RATE_LIMITED', 'too many rooms on this server');
    const roomId = crypto.randomBytes(9).toString('base64url');
    const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
    this.known.set(roomId, { expiresAt });
    return { roomId, expiresAt };
  }

  exists(roomId: string): boolean {
    const r = this.known.get(roomId);
    return !!r && r.expiresAt > Date.now() / 1000;
  }

  async open(roomId: string): Promise<Room> {
    if (!this.exists(roomId)) throw new ClientError('UNKNOWN_ROOM', `room ${roomId} does not exist or has expired`);
    const r = this.live.get(roomId);
    if (r && !r.closed) return r;
    let p = this.opening.get(roomId);
    if (!p) {
      p = this.workers.createRouter().then(({ router, release }) => {
        const room = new Room(roomId, router, release, this.deps);
        room.expiresAt = this.known.get(roomId)?.expiresAt ?? room.expiresAt;
        this.live.set(roomId, room);
        return room;
      });
      this.opening.set(roomId, p);
      p.finally(() => this.opening.delete(roomId)).catch(() => {});
    }
    return p;
  }

  /** Close a live room with nobody left in it. */
  closeIfEmpty(room: Room): void {
    if (room.peers.size === 0 && this.live.get(room.id) === room) {
      this.live.delete(room.id);
      this.deps.uploads.dropRoom(room.id);
      room.close();
    }
  }

  private sweep(): void {
    const now = Date.now() / 1000;
    for (const [id, r] of this.known) if (r.expiresAt <= now && !this.live.has(id)) this.known.delete(id);
  }

  liveRooms(): Room[] {
    return [...this.live.values()];
  }

  closeAll(): void {
    for (const r of this.live.values()) r.close();
    this.live.clear();
  }
}
