import type { Frame, FrameProcessor } from '@portrait-edit/models';

/**
 * TEST ONLY (registered when PE_TEST_PROCESSORS=1): a processor that misbehaves on request,
 * so tests can prove the filter survives it. The first byte of a frame picks the behaviour:
 * 0 works (sets the second byte to 42), 1 blocks its thread for 3 s, 2 throws, 3 crashes its
 * thread outside any frame, 4 never returns (a busy loop).
 */
export class TestFaultsProcessor implements FrameProcessor {
  readonly name = 'test-faults';

  process(frame: Frame) {
    const d = frame.data;
    switch (d[0]) {
      case 1: {
        const end = performance.now() + 3000;
        while (performance.now() < end);
        break;
      }
      case 2:
        throw new Error('test fault');
      case 3:
        setImmediate(() => {
          throw new Error('test crash');
        });
        return new Promise<never>(() => {});
      case 4:
        for (;;);
    }
    d[1] = 42;
    return { frame, edited: true };
  }
}
