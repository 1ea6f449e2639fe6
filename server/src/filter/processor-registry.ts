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
  editor: async () => (await import('@portrait-edit/models')).createEditorProcessor({ pipeline: true }),
};

// Misbehaves on purpose, for the fault tests only.
if (process.env.PE_TEST_PROCESSORS === '1') factories['test-faults'] = () => new TestFaultsProcessor();

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
