/**
 * The editor thread (see editor-thread.ts): one PortraitEditor session answering `edit`
 * requests, so its onnxruntime run (synchronous on the calling JS thread in onnxruntime-node)
 * never blocks the frame path.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { PortraitEditor, EDITOR_SIZE, chwToFrame } from './portrait-editor.js';
import type { EditorThreadReply, EditorThreadRequest } from './editor-thread.js';
import { SupersededError } from './staged-editor.js';

const port = parentPort!;
const { assetsDir, threads, nice } = (workerData as { data: { assetsDir?: string; threads?: number; nice?: number } }).data;

// Before the sessions are made: their pool threads inherit this thread's nice value. Linux
// gives each thread its own; elsewhere (no /proc/thread-self) the thread keeps the caller's.
if (nice) {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), nice);
  } catch {
    // Not Linux: the runs are not deprioritised, nothing else changes.
  }
}

/** Runs with a lower id are no longer wanted (EditorThread.supersede). */
let supersededBelow = 0;

PortraitEditor.load({ assetsDir, threads, textEncoder: false }).then(
  (ed) => {
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
      ed.edit(m.input, { stop: () => id < supersededBelow }).then(
        (out) => {
          const rgb = chwToFrame(out.rgb, EDITOR_SIZE).data;
          const reply: EditorThreadReply = { type: 'edited', id: m.id, rgb, ms: out.ms };
          port.postMessage(reply, [rgb.buffer as ArrayBuffer]);
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
