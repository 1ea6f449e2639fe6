/**
 * The editor thread (see editor-thread.ts): one PortraitEditor session answering `edit`
 * requests, so its onnxruntime run (synchronous on the calling JS thread in onnxruntime-node)
 * never blocks the frame path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PortraitEditor, EDITOR_SIZE, chwToFrame } from './portrait-editor.js';
import type { EditorThreadReply, EditorThreadRequest } from './editor-thread.js';

const port = parentPort!;
const { assetsDir, threads } = (workerData as { data: { assetsDir?: string; threads?: number } }).data;

PortraitEditor.load({ assetsDir, threads, textEncoder: false }).then(
  (ed) => {
    port.on('message', (m: EditorThreadRequest) => {
      if (m.type === 'close') {
        void ed.close().finally(() => port.close());
        return;
      }
      ed.edit(m.input).then(
        (out) => {
          const rgb = chwToFrame(out.rgb, EDITOR_SIZE).data;
          const reply: EditorThreadReply = { type: 'edited', id: m.id, rgb, ms: out.ms };
          port.postMessage(reply, [rgb.buffer as ArrayBuffer]);
        },
        (err: unknown) => port.postMessage({ type: 'failed', id: m.id, message: err instanceof Error ? err.message : String(err) } satisfies EditorThreadReply),
      );
    });
    port.postMessage({ type: 'ready' } satisfies EditorThreadReply);
  },
  (err: unknown) => port.postMessage({ type: 'initFailed', message: err instanceof Error ? err.message : String(err) } satisfies EditorThreadReply),
);
