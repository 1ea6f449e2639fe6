/**
 * The editor thread (see editor-thread.ts): one PortraitEditor session answering `edit`
 * requests, so its onnxruntime run (synchronous on the calling JS thread in onnxruntime-node)
 * never blocks the frame path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PortraitEditor, EDITOR_SIZE, chwToFrame } from './portrait-editor.js';
import type { EditorThreadReply, EditorThreadRequest } from './editor-thread.js';
import { SupersededError } from './staged-editor.js';
import { SelfieMatte, MATTE_SIZE } from '../tracking/matte.js';

const port = parentPort!;
const { assetsDir, threads, burstThreads, matte } = (workerData as { data: { assetsDir?: string; threads?: number; burstThreads?: number; matte?: boolean } }).data;

/** Runs with a lower id are no longer wanted (EditorThread.supersede). */
let supersededBelow = 0;

/** The editor's CHW crop as the HWC floats the matte takes (the two share the crop: EDITOR_SIZE = MATTE_SIZE). */
const hwc = new Float32Array(3 * MATTE_SIZE * MATTE_SIZE);

async function matteOf(selfie: SelfieMatte, chw: Float32Array): Promise<Float32Array | null> {
  const n = MATTE_SIZE * MATTE_SIZE;
  if (chw.length !== 3 * n) return null;
  for (let i = 0; i < n; i++) {
    hwc[3 * i] = chw[i];
    hwc[3 * i + 1] = chw[n + i];
    hwc[3 * i + 2] = chw[2 * n + i];
  }
  try {
    return await selfie.matteFromCrop(hwc);
  } catch {
    // The frame path falls back to its own matte.
    return null;
  }
}

async function load(): Promise<{ ed: PortraitEditor; selfie: SelfieMatte | null }> {
  const selfie = matte ? new SelfieMatte() : null;
  const [ed] = await Promise.all([PortraitEditor.load({ assetsDir, threads, burstThreads, textEncoder: false }), selfie?.init()]);
  return { ed, selfie };
}

load().then(
  ({ ed, selfie }) => {
    port.on('message', (m: EditorThreadRequest) => {
      if (m.type === 'close') {
        void ed.close().finally(() => port.close());
        return;
      }
      if (m.type === 'supersede') {
        supersededBelow = Math.max(supersededBelow, m.below);
        return;
      }
      const id = m.id;
      if (id < supersededBelow) {
        port.postMessage({ type: 'failed', id, message: 'editor run superseded', superseded: true } satisfies EditorThreadReply);
        return;
      }
      ed.edit(m.input, { burst: m.burst, stop: () => id < supersededBelow }).then(
        async (out) => {
          const rgb = chwToFrame(out.rgb, EDITOR_SIZE).data;
          // Not for a run a newer one superseded meanwhile: that one (a prompt switch) waits.
          const mat = m.matte && selfie && id >= supersededBelow ? await matteOf(selfie, m.input.image) : null;
          const reply: EditorThreadReply = { type: 'edited', id: m.id, rgb, ms: out.ms, matte: mat };
          port.postMessage(reply, mat ? [rgb.buffer as ArrayBuffer, mat.buffer as ArrayBuffer] : [rgb.buffer as ArrayBuffer]);
        },
        (err: unknown) => port.postMessage({
          type: 'failed', id: m.id, message: err instanceof Error ? err.message : String(err), superseded: err instanceof SupersededError,
        } satisfies EditorThreadReply),
      );
    });
    port.postMessage({ type: 'ready' } satisfies EditorThreadReply);
  },
  (err: unknown) => port.postMessage({ type: 'initFailed', message: err instanceof Error ? err.message : String(err) } satisfies EditorThreadReply),
);
