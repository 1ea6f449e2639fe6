import { describe, expect, test } from 'vitest';
import { decoderArgs, decoderSdp, encoderArgs, type EncodeArgs } from '../src/filter/ffmpeg-args.js';

const good: EncodeArgs = { width: 640, height: 480, rtpPort: 30000, rtcpPort: 30001, ssrc: 1234, payloadType: 101, bitrateKbps: 1000, keyframeSeconds: 1, startupKeyframeSeconds: 3 };

describe('ffmpeg command lines take validated numbers only', () => {
  test('well-formed values give argument arrays with those numbers', () => {
    const enc = encoderArgs(good);
    expect(enc).toContain('640x480');
    expect(enc[enc.length - 1]).toBe('rtp://127.0.0.1:30000?rtcpport=30001&pkt_size=1200');
    expect(decoderArgs({ width: 640, height: 480 })).toContain('scale=640:480:flags=fast_bilinear');
    expect(decoderSdp(30000, 96)).toContain('m=video 30000 RTP/AVP 96');
  });

  test('anything else is refused before a process is started', () => {
    const bad: [keyof EncodeArgs, unknown][] = [
      ['width', 641.5], ['width', -2], ['width', 100_000], ['height', Number.NaN],
      ['rtpPort', 0], ['rtpPort', 70000], ['rtcpPort', '30001; rm -rf /'],
      ['ssrc', 0], ['ssrc', 2 ** 31], ['payloadType', 128], ['bitrateKbps', Number.POSITIVE_INFINITY],
      ['keyframeSeconds', 0], ['keyframeSeconds', '1,gte(t,0)'], ['startupKeyframeSeconds', -1],
    ];
    for (const [k, v] of bad) expect(() => encoderArgs({ ...good, [k]: v } as EncodeArgs), `${k}=${String(v)}`).toThrow(RangeError);
    expect(() => decoderArgs({ width: 0, height: 480 })).toThrow(RangeError);
    expect(() => decoderArgs({ width: 640, height: '480 -i /etc/passwd' as unknown as number })).toThrow(RangeError);
    expect(() => decoderSdp(65535, 96)).toThrow(RangeError); // its RTCP port would be 65536
    expect(() => decoderSdp(30000, 200)).toThrow(RangeError);
  });
});
