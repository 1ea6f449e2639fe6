import wrtc from '@roamhq/wrtc';
import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientRequest, FilterSettingsPatch } from '@portrait-edit/shared';

// mediasoup-client's Chrome handler drives whatever RTCPeerConnection is global: libwebrtc's,
// through @roamhq/wrtc, so the bench publishes over real WebRTC (ICE, DTLS-SRTP, VP8).
Object.assign(globalThis, {
  RTCPeerConnection: wrtc.RTCPeerConnection,
  RTCSessionDescription: wrtc.RTCSessionDescription,
  RTCIceCandidate: wrtc.RTCIceCandidate,
  MediaStream: wrtc.MediaStream,
  MediaStreamTrack: wrtc.MediaStreamTrack,
});

export interface I420Clip {
  width: number;
  height: number;
  frames: Uint8Array[];
}

/** A participant without a browser: publishes a real clip as a webcam would, at a fixed rate. */
export class HeadlessPublisher {
  private socket: Socket;
  private device = new Device({ handlerName: 'Chrome111' });
  private transport: types.Transport | null = null;
  private timer: NodeJS.Timeout | null = null;
  private track: MediaStreamTrack | null = null;
  peerId = '';

  private constructor(url: string, token: string) {
    this.socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  }

  static async start(url: string, token: string, name: string, clip: I420Clip, fps: number): Promise<HeadlessPublisher> {
    const p = new HeadlessPublisher(url, token);
    await p.join(name, clip, fps);
    return p;
  }

  private request<T>(msg: ClientRequest): Promise<T> {
    return this.socket.timeout(10_000).emitWithAck('request', msg).then((r: Ack<T>) => {
      if (!r.ok) throw new Error(`${msg.type}: ${r.error.code} ${r.error.message}`);
      return r.data;
    });
  }

  private async join(name: string, clip: I420Clip, fps: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
    const caps = await this.request<types.RtpCapabilities>({ type: 'getRouterRtpCapabilities' });
    await this.device.load({ routerRtpCapabilities: caps });
    const joined = await this.request<{ peerId: string }>({ type: 'join', displayName: name, rtpCapabilities: this.device.rtpCapabilities as never });
    this.peerId = joined.peerId;
    const params = await this.request<types.TransportOptions>({ type: 'createTransport', direction: 'send' });
    const t = this.device.createSendTransport(params);
    this.transport = t;
    t.on('connect', ({ dtlsParameters }, cb, errb) => {
      this.request({ type: 'connectTransport', transportId: t.id, dtlsParameters: dtlsParameters as never }).then(() => cb(), errb);
    });
    t.on('produce', ({ kind, rtpParameters }, cb, errb) => {
      this.request<{ producerId: string }>({
        type: 'produce',
        transportId: t.id,
        kind,
        rtpParameters: rtpParameters as never,
        videoSize: { width: clip.width, height: clip.height },
      }).then(({ producerId }) => cb({ id: producerId }), errb);
    });
    const source = new wrtc.nonstandard.RTCVideoSource();
    this.track = source.createTrack();
    let i = 0;
    this.timer = setInterval(() => {
      source.onFrame({ width: clip.width, height: clip.height, data: clip.frames[i++ % clip.frames.length] });
    }, 1000 / fps);
    await t.produce({ track: this.track, encodings: [{ maxBitrate: 1_200_000 }] });
  }

  setFilter(patch: FilterSettingsPatch): Promise<unknown> {
    return this.request({ type: 'setFilter', settings: patch });
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.track?.stop();
    this.transport?.close();
    this.socket.close();
  }
}
