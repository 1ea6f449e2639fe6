import { z } from 'zod';
import { FilterSettingsPatchSchema, FilterSettingsSchema } from './settings.js';
import { FilterStatsSchema } from './stats.js';

/**
 * Signalling over socket.io. Every client request is one `request` event carrying a
 * `{ type, ...data }` object and an acknowledgement callback; the server answers
 * `{ ok: true, data }` or `{ ok: false, error: { code, message } }`.
 * mediasoup's own parameter objects (RTP/DTLS/ICE) are checked for shape here and in depth by
 * mediasoup itself, which throws on anything it cannot use.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;

const id = z.string().min(1).max(128);
const jsonObject = z.record(z.string(), z.unknown());

export const ClientRequestSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('getRouterRtpCapabilities') }).strict(),
  z
    .object({
      type: z.literal('join'),
      displayName: z.string().trim().min(1).max(64),
      rtpCapabilities: jsonObject,
    })
    .strict(),
  z.object({ type: z.literal('createTransport'), direction: z.enum(['send', 'recv']) }).strict(),
  z
    .object({ type: z.literal('connectTransport'), transportId: id, dtlsParameters: jsonObject })
    .strict(),
  z
    .object({
      type: z.literal('produce'),
      transportId: id,
      kind: z.enum(['audio', 'video']),
      rtpParameters: jsonObject,
      /** The camera's capture size, so the filter loop keeps its aspect ratio. */
      videoSize: z
        .object({ width: z.number().int().min(16).max(4096), height: z.number().int().min(16).max(4096) })
        .strict()
        .optional(),
    })
    .strict(),
  z.object({ type: z.literal('consume'), transportId: id, producerId: id }).strict(),
  z.object({ type: z.literal('resumeConsumer'), consumerId: id }).strict(),
  /** Stop a consumer's media but keep it (a raw stream held in standby behind the edited one). */
  z.object({ type: z.literal('pauseConsumer'), consumerId: id }).strict(),
  z.object({ type: z.literal('closeConsumer'), consumerId: id }).strict(),
  z.object({ type: z.literal('closeProducer'), producerId: id }).strict(),
  z
    .object({
      type: z.literal('setFilter'),
      settings: FilterSettingsPatchSchema,
      /** Whose filter: yourself when absent; another participant's only for the host. */
      peerId: id.optional(),
    })
    .strict(),
  z.object({ type: z.literal('ping') }).strict(),
  /** A signed link for a view-only page of your edited stream (e.g. an OBS browser source). */
  z.object({ type: z.literal('createViewerLink') }).strict(),
  /** The preset gallery's thumbnails: each preset applied by the editor to your own face. */
  z
    .object({ type: z.literal('presetThumbnails'), presets: z.array(z.string().regex(/^[a-z0-9-]{1,64}$/)).min(1).max(64) })
    .strict(),
]);
export type ClientRequest = z.infer<typeof ClientRequestSchema>;
export type ClientRequestType = ClientRequest['type'];

export const ErrorCodeSchema = z.enum([
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'UNKNOWN_ROOM',
  'NOT_JOINED',
  'ALREADY_JOINED',
  'NOT_FOUND',
  'FORBIDDEN',
  'RATE_LIMITED',
  'TOO_LARGE',
  'UNSUPPORTED',
  'INTERNAL',
]);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

export type Ack<T = unknown> =
  | { ok: true; data: T }
  | { ok: false; error: { code: ErrorCode; message: string } };

export const PeerInfoSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  role: z.enum(['host', 'guest', 'viewer']),
  settings: FilterSettingsSchema,
});
export type PeerInfo = z.infer<typeof PeerInfoSchema>;

/**
 * What a peer's video (or audio) looks like to the others: the producer to consume.
 * When a filter starts or stops, the same stream is announced again with a new producerId
 * (processed or raw); clients swap consumers without blanking the tile.
 */
export const StreamInfoSchema = z.object({
  peerId: z.string(),
  kind: z.enum(['audio', 'video']),
  producerId: z.string(),
  processed: z.boolean(),
});
export type StreamInfo = z.infer<typeof StreamInfoSchema>;

export interface ServerEvents {
  peerJoined: (peer: PeerInfo) => void;
  peerLeft: (msg: { peerId: string }) => void;
  peerSettings: (msg: { peerId: string; settings: z.infer<typeof FilterSettingsSchema> }) => void;
  streamAvailable: (stream: StreamInfo) => void;
  streamClosed: (msg: { peerId: string; kind: 'audio' | 'video' }) => void;
  consumerClosed: (msg: { consumerId: string }) => void;
  filterStats: (stats: z.infer<typeof FilterStatsSchema>) => void;
  notice: (msg: { level: 'info' | 'warn' | 'error'; message: string }) => void;
}

export interface ClientEvents {
  request: (msg: unknown, ack: (res: Ack) => void) => void;
}

/** Token payload: a capability to join one room with one role until `exp` (unix seconds). */
export const TokenPayloadSchema = z
  .object({
    room: z.string().regex(/^[A-Za-z0-9_-]{4,64}$/),
    role: z.enum(['host', 'guest', 'viewer']),
    exp: z.number().int(),
    /** Only for viewer tokens: the participant whose edited stream the page shows. */
    peer: z.string().max(64).optional(),
  })
  .strict();
export type TokenPayload = z.infer<typeof TokenPayloadSchema>;

export const CreateRoomRequestSchema = z
  .object({ ttlHours: z.number().int().min(1).max(72).optional() })
  .strict();
