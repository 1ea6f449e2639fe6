// Worker threads do not inherit the `--import tsx` loader (or the register() call) of the
// thread that started them (Node 20), so each TypeScript worker registers tsx itself first.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
