import { Worker, type WorkerOptions } from 'node:worker_threads';

const BOOT = new URL('./ts-worker-boot.mjs', import.meta.url);

/**
 * A worker thread running the TypeScript module `entry` (through tsx, as the rest of the
 * workspace runs). The module reads what it was given as `workerData.data`.
 */
export function tsWorker(entry: URL, data: unknown, opts: Omit<WorkerOptions, 'workerData'> = {}): Worker {
  return new Worker(BOOT, { ...opts, workerData: { entry: entry.href, data } });
}
