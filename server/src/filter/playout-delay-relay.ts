/**
 * A UDP relay between the ffmpeg encoder and the processed stream's mediasoup transport that adds
 * the playout-delay RTP header extension (min 0, max 0) to every packet.
 *
 * Why: a receiving browser holds each frame in its jitter buffer for as long as it estimates the
 * stream's jitter plus decode time. Frames leave the filter when the processor finishes them, so
 * their spacing varies more than a camera's: measured in Chromium at the receiver, 108 ms of
 * jitter-buffer delay per frame of the edited stream. A playout delay of (0, 0) tells libwebrtc to
 * render each frame as soon as it is decoded (the mode cloud gaming uses). ffmpeg's RTP muxer writes
 * no header extensions, hence the relay; mediasoup forwards the extension to every consumer that
 * negotiated it (the producer declares it: PLAYOUT_DELAY_EXTENSION).
 *
 * Only RTP goes through it; ffmpeg's RTCP goes to the transport directly. The relay listens on
 * 127.0.0.1 only and rewrites nothing but the header. Per packet: no allocation beyond the
 * Buffer Node hands in (a ring of output buffers, since dgram sends without copying).
 */
import dgram from 'node:dgram';

export const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';
/** The id the processed producer declares the extension under (one-byte header: 1–14). */
export const PLAYOUT_DELAY_ID = 1;
export const PLAYOUT_DELAY_EXTENSION = { uri: PLAYOUT_DELAY_URI, id: PLAYOUT_DELAY_ID } as const;

const MAX_PACKET = 1500;
/** Output buffers in flight at once; a frame is ~10 packets, so a handful of frames. */
const RING = 64;
/** One-byte header extension block (RFC 8285): 0xBEDE, length 1 word, then ID/L, min 0, max 0. */
const EXTENSION_BLOCK = Buffer.from([0xbe, 0xde, 0x00, 0x01, (PLAYOUT_DELAY_ID << 4) | 2, 0x00, 0x00, 0x00]);

/**
 * Writes `packet` with the playout-delay block into `out`; returns the length, or -1 when the
 * packet is not one to rewrite (not RTP version 2, already carries extensions, too short or long):
 * those are forwarded as they are.
 */
export function addPlayoutDelay(packet: Uint8Array, len: number, out: Uint8Array): number {
  if (len < 12 || packet[0] >> 6 !== 2 || packet[0] & 0x10) return -1;
  const header = 12 + 4 * (packet[0] & 0x0f);
  if (len < header || len + EXTENSION_BLOCK.length > out.length) return -1;
  out.set(packet.subarray(0, header), 0);
  out[0] |= 0x10;
  out.set(EXTENSION_BLOCK, header);
  out.set(packet.subarray(header, len), header + EXTENSION_BLOCK.length);
  return len + EXTENSION_BLOCK.length;
}

export class PlayoutDelayRelay {
  private readonly ring: Buffer[] = Array.from({ length: RING }, () => Buffer.alloc(MAX_PACKET + EXTENSION_BLOCK.length));
  private next = 0;
  /** Packets forwarded, and those forwarded unchanged (not rewritable). */
  forwarded = 0;
  unchanged = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly targetPort: number,
  ) {
    socket.on('message', (msg) => this.relay(msg));
    // A send error (the transport closed first) must not take the worker down.
    socket.on('error', () => {});
  }

  /** Listens on 127.0.0.1 (an ephemeral port) and forwards to 127.0.0.1:targetPort. */
  static open(targetPort: number): Promise<PlayoutDelayRelay> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        s.off('error', reject);
        resolve(new PlayoutDelayRelay(s, targetPort));
      });
    });
  }

  /** Where the encoder sends RTP. */
  get port(): number {
    return this.socket.address().port;
  }

  private relay(msg: Buffer): void {
    const out = this.ring[this.next];
    this.next = (this.next + 1) % RING;
    const n = addPlayoutDelay(msg, msg.length, out);
    this.forwarded++;
    if (n < 0) {
      this.unchanged++;
      this.socket.send(msg, this.targetPort, '127.0.0.1');
    } else {
      this.socket.send(out, 0, n, this.targetPort, '127.0.0.1');
    }
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // Already closed.
    }
  }
}
