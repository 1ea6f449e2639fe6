import os from 'node:os';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Server settings, read once from the environment (PE_*). */
export interface ServerConfig {
  host: string;
  port: number;
  /** IP mediasoup listens on for WebRTC, and the one it announces (ICE candidates). */
  rtcListenIp: string;
  rtcAnnouncedIp: string | undefined;
  rtcMinPort: number;
  rtcMaxPort: number;
  /** Ports the per-track ffmpeg decoders listen on (kept apart from mediasoup's range). */
  ffmpegMinPort: number;
  ffmpegMaxPort: number;
  numWorkers: number;
  /** HMAC secret for room tokens; random per start unless given. */
  tokenSecret: Buffer;
  tokenTtlSeconds: number;
  /** The frame processor the filter loop uses: editor (default when its model exists) | passthrough | test-invert. */
  processor: string;
  /** Largest frame the filter loop processes; bigger inputs are scaled down keeping aspect. */
  maxFrameWidth: number;
  maxFrameHeight: number;
  /** Cap on concurrently filtered streams on this machine. */
  maxFilteredStreams: number;
  ffmpegPath: string;
  clientDist: string | undefined;
  /** Exposes /api/debug/resources (tests and ops only). */
  debugEndpoints: boolean;
  /**
   * Origins browsers may call the API and signalling from: a list, '*' (any), or
   * 'same-origin' (the default: the Origin header must name the host the request was sent to).
   */
  allowedOrigins: string[] | '*' | 'same-origin';
  /** A running filter worker silent for this long is taken as hung, killed and replaced. */
  heartbeatMs: number;
  /**
   * Peers a room puts on one router before it spreads onto a router on another mediasoup
   * worker (producers piped between them with pipeToRouter). 0: never spread.
   */
  maxPeersPerRouter: number;
  /** New signalling connections a client IP may open per minute. */
  connectionsPerMinute: number;
}

/** The trained editor's model file: when it is there, the server edits with it by default. */
export const EDITOR_MODEL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models/assets/editor/editor.onnx');

function defaultProcessor(): string {
  return fs.existsSync(EDITOR_MODEL) ? 'editor' : 'passthrough';
}

function origins(v: string | undefined): ServerConfig['allowedOrigins'] {
  if (!v || v === 'same-origin') return 'same-origin';
  if (v === '*') return '*';
  return v.split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean);
}

function int(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got "${v}"`);
  return n;
}

export function loadConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const env = process.env;
  const secret = env.PE_TOKEN_SECRET;
  const cfg: ServerConfig = {
    host: env.PE_HOST ?? '127.0.0.1',
    port: int('PE_PORT', 8080),
    rtcListenIp: env.PE_RTC_LISTEN_IP ?? '127.0.0.1',
    rtcAnnouncedIp: env.PE_RTC_ANNOUNCED_IP || undefined,
    rtcMinPort: int('PE_RTC_MIN_PORT', 20000),
    rtcMaxPort: int('PE_RTC_MAX_PORT', 29999),
    ffmpegMinPort: int('PE_FFMPEG_MIN_PORT', 30000),
    ffmpegMaxPort: int('PE_FFMPEG_MAX_PORT', 39999),
    numWorkers: int('PE_WORKERS', os.availableParallelism()),
    tokenSecret: secret ? Buffer.from(secret, 'utf8') : crypto.randomBytes(32),
    tokenTtlSeconds: int('PE_TOKEN_TTL_SECONDS', 12 * 3600),
    processor: env.PE_PROCESSOR || defaultProcessor(),
    maxFrameWidth: int('PE_MAX_FRAME_WIDTH', 640),
    maxFrameHeight: int('PE_MAX_FRAME_HEIGHT', 480),
    maxFilteredStreams: int('PE_MAX_FILTERED_STREAMS', 4),
    ffmpegPath: env.PE_FFMPEG ?? 'ffmpeg',
    clientDist: env.PE_CLIENT_DIST,
    debugEndpoints: env.PE_DEBUG_ENDPOINTS === '1',
    allowedOrigins: origins(env.PE_ALLOWED_ORIGINS),
    heartbeatMs: int('PE_HEARTBEAT_MS', 1000),
    maxPeersPerRouter: int('PE_MAX_PEERS_PER_ROUTER', 16),
    connectionsPerMinute: int('PE_CONNECTIONS_PER_MINUTE', 120),
    ...overrides,
  };
  if (cfg.numWorkers < 1) throw new Error('PE_WORKERS must be ≥ 1');
  if (cfg.heartbeatMs < 500) throw new Error('PE_HEARTBEAT_MS must be ≥ 500 (workers report every 250 ms)');
  if (cfg.maxPeersPerRouter < 0) throw new Error('PE_MAX_PEERS_PER_ROUTER must be ≥ 0');
  return cfg;
}
