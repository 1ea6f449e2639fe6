import type { FrameProcessor } from '@portrait-edit/models';
import { PassthroughProcessor } from './processors/passthrough.js';
import { TestInvertProcessor } from './processors/test-invert.js';
import { TestFaultsProcessor } from './processors/test-faults.js';
import { OverlayChain } from './overlay-chain.js';
import { BackgroundKey } from './background-key.js';

/**
 * Processor factories by name (PE_PROCESSOR). One instance per filtered stream: processors
 * may keep per-stream state (tracking, smoothing).
 */
const factories: Record<string, () => FrameProcessor | Promise<FrameProcessor>> = {
  passthrough: () => new PassthroughProcessor(),
  'test-invert': () => new TestInvertProcessor(),
  // The 3DPE editor: trained ONNX on onnxruntime-node (models/assets/editor), loaded on demand.
  // Pipelined: frames are composited with the newest edit while the editor works on the next.
  editor: async () => (await import('@portrait-edit/models')).createEditorProcessor({ pipeline: true, threads: editorThreads() }),
};

// Misbehaves on purpose, for the fault tests only.
if (process.env.PE_TEST_PROCESSORS === '1') factories['test-faults'] = () => new TestFaultsProcessor();

/**
 * onnxruntime threads of each stream's editor session (PE_EDITOR_THREADS, default 1). One: the
 * frame path (tracking, compositing) keeps the other core busy, and a second onnxruntime thread
 * then mostly waits at each operator's barrier (measured: 328 vs 562 ms from a new prompt's
 * tokens to its first frame in the prompts e2e, 6–7 edits/s either way on a quiet machine).
 */
function editorThreads(): number {
  const v = Number(process.env.PE_EDITOR_THREADS ?? 1);
  if (!Number.isInteger(v) || v < 1 || v > 16) throw new Error('PE_EDITOR_THREADS must be an integer in [1, 16]');
  return v;
}

export function registerProcessor(name: string, f: () => FrameProcessor | Promise<FrameProcessor>): void {
  factories[name] = f;
}

export function processorNames(): string[] {
  return Object.keys(factories);
}

export async function createProcessor(name: string): Promise<FrameProcessor> {
  const f = factories[name];
  if (!f) throw new Error(`unknown processor "${name}" (known: ${processorNames().join(', ')})`);
  // The key goes last: it mattes what receivers will see, overlay included.
  const p = new BackgroundKey(new OverlayChain(await f()));
  await p.init();
  return p;
}
