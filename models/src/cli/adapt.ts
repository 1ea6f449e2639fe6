/**
 * `portrait-edit adapt --pairs DIR [--minutes 5] (-o style.bin | --install) [--name ID] [--label "…"]`
 *
 * Teaches the editor a new style from before/after pairs (paper Sec. 4.3): spawns
 * models/training/.venv/bin/python -m pe_editor.adapt (argument array, no shell), which tunes
 * only the prompt tokens and E_high's norm affine for --minutes of optimisation, and writes a
 * style: -o X.bin gives X.bin + X.json (the id is X's file name, or --name); --install puts it
 * where the server's gallery and filter workers look (PE_DATA_DIR/styles, default data/styles).
 * DIR: NAME_before.png / NAME_after.png pairs (also .jpg/.webp, -before/-after) or
 * before/NAME.png + after/NAME.png. Progress goes to stderr.
 * Exit codes: 0 ok, 2 bad input/usage (message on stderr), 1 internal error.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { styleDirs } from '../editor/portrait-editor.js';
import { parseArgs, UsageError } from './args.js';
import type { CliCommand, CliIO } from './commands.js';
import { TEACHER_PYTHON } from './edit.js';

const TRAINING = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'training');
const ID_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;

export interface AdaptArgs {
  pairs: string;
  minutes: number;
  /** Destination .bin (its .json beside it), or null with install. */
  out: string | null;
  install: boolean;
  name: string;
  label?: string;
  threads: number;
}

export function parseAdaptArgs(argv: string[]): AdaptArgs {
  const fixed = argv.map((a) => (a === '-o' ? '--out' : a));
  const { positionals, options: o } = parseArgs(fixed, ['pairs', 'minutes', 'out', 'name', 'label', 'threads'], ['install']);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (typeof o.pairs !== 'string') throw new UsageError('--pairs DIR is required');
  const minutes = o.minutes === undefined ? 5 : Number(o.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 60) throw new UsageError('--minutes must be a number in (0, 60]');
  const threads = o.threads === undefined ? 1 : Number(o.threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new UsageError('--threads must be an integer in [1, 64]');
  const out = typeof o.out === 'string' ? o.out : null;
  const install = o.install === true;
  if (!out && !install) throw new UsageError('give -o style.bin or --install');
  if (out && !out.endsWith('.bin')) throw new UsageError('-o must name a .bin file (its .json is written beside it)');
  const name = typeof o.name === 'string' ? o.name : out ? path.basename(out, '.bin') : '';
  if (!ID_RE.test(name)) throw new UsageError(`style id '${name}' must be lower-case letters, digits and '-' (set it with --name)`);
  const label = typeof o.label === 'string' ? o.label : undefined;
  if (label !== undefined && label.length > 60) throw new UsageError('--label is longer than 60 characters');
  return { pairs: o.pairs, minutes, out, install, name, label, threads };
}

/** Runs the trainer; resolves to the exit code. `python` is swappable for tests. */
export async function runAdapt(a: AdaptArgs, io: CliIO, python = TEACHER_PYTHON): Promise<number> {
  if (!existsSync(python)) {
    io.stderr(`portrait-edit adapt: the trainer needs ${python} (run models/training/setup-venv.sh)\n`);
    return 1;
  }
  let st;
  try {
    st = statSync(a.pairs);
  } catch {
    st = null;
  }
  if (!st?.isDirectory()) {
    io.stderr(`portrait-edit adapt: error: not a folder: ${a.pairs}\n`);
    return 2;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pe-adapt-'));
  try {
    const args = ['-m', 'pe_editor.adapt', '--pairs', path.resolve(a.pairs), '--name', a.name, '--minutes', String(a.minutes),
      '--out', tmp, '--threads', String(a.threads), '--progress', ...(a.label ? ['--label', a.label] : [])];
    let error: string | null = null;
    const code = await new Promise<number>((resolve) => {
      const p = spawn(python, args, { cwd: TRAINING, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HF_HUB_OFFLINE: '1', GLOG_minloglevel: '2', TF_CPP_MIN_LOG_LEVEL: '2', PYTHONUNBUFFERED: '1' } });
      let buf = '';
      let tail = '';
      p.stdout.setEncoding('utf8');
      p.stdout.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          let e: Record<string, unknown>;
          try {
            e = JSON.parse(line);
          } catch {
            continue;
          }
          if (e.event === 'phase') io.stderr(`${e.phase}…\n`);
          else if (e.event === 'pairs') {
            io.stderr(`${e.usable} usable pairs\n`);
            for (const s of e.skipped as string[]) io.stderr(`  skipped: ${s}\n`);
          } else if (e.event === 'progress') {
            io.stderr(`  step ${String(e.step).padStart(5)}  ${(e.elapsed as number).toFixed(0)}/${(e.budget as number).toFixed(0)} s  loss ${(e.loss as number).toFixed(4)}\n`);
          } else if (e.event === 'error') error = String(e.message);
        }
      });
      p.stderr.setEncoding('utf8');
      p.stderr.on('data', (d: string) => {
        tail = (tail + d).slice(-4000);
      });
      p.on('error', (e) => {
        error = `cannot start python: ${e.message}`;
        resolve(1);
      });
      p.on('close', (c) => {
        if (c !== 0 && c !== 2 && !error) error = tail.trim().split('\n').slice(-3).join('\n');
        resolve(c ?? 1);
      });
    });
    if (code !== 0) {
      io.stderr(`portrait-edit adapt: ${code === 2 ? 'error' : 'trainer failed'}: ${error ?? `exit ${code}`}\n`);
      return code === 2 ? 2 : 1;
    }
    const meta = JSON.parse(readFileSync(path.join(tmp, `${a.name}.json`), 'utf8'));
    const dests = [...(a.out ? [a.out] : []), ...(a.install ? [path.join(styleDirs()[1], `${a.name}.bin`)] : [])];
    for (const bin of dests) {
      mkdirSync(path.dirname(path.resolve(bin)), { recursive: true });
      const json = bin.replace(/\.bin$/, '.json');
      copyFileSync(path.join(tmp, `${a.name}.bin`), `${bin}.part`);
      renameSync(`${bin}.part`, bin);
      writeFileSync(`${json}.part`, JSON.stringify({ ...meta, name: path.basename(bin, '.bin') }, null, 1));
      renameSync(`${json}.part`, json);
      io.stdout(`${bin}\n`);
    }
    io.stderr(`style '${a.name}': ${meta.pairs} pairs, ${meta.steps} steps in ${meta.seconds} s, loss ${meta.final_loss}\n`);
    return 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export const adaptCommand: CliCommand = {
  synopsis: 'adapt --pairs DIR [--minutes 5] (-o style.bin | --install) [--name ID] [--label "…"]',
  description: 'teach the editor a new style from 2–50 before/after pairs (tunes prompt tokens + norm; writes a style file)',
  run: async (argv: string[], io: CliIO) => runAdapt(parseAdaptArgs(argv), io),
};
