import type { types } from 'mediasoup';

/**
 * VP8 only for video: the filter loop decodes and re-encodes VP8 with ffmpeg, and one codec
 * keeps raw and processed producers consumable by every browser without transcoding.
 */
export const MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  {
    kind: 'video',
    mimeType: 'video/VP8',
    clockRate: 90000,
    parameters: { 'x-google-start-bitrate': 800 },
  },
];

/** Payload type and SSRC for the processed stream ffmpeg sends back into the router. */
export const PROCESSED_VP8_PT = 101;
