import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StyleMetaSchema, type PresetInfo, type StyleInfo } from '@portrait-edit/shared';
import { ClientError } from '../errors.js';


/** sha256 prefix of a file, as pe_editor.adapt.file_hash. */
export function fileHash(file: string): string | null {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
  } catch {
    return null;
  }
}

/**
 * Adapted styles: the ones shipped with the editor (models/assets/editor/styles, read-only) and
 * the ones users made (DATA/styles, persistent, deletable). A style is NAME.json + NAME.bin; the
 * .json is written last and removed first, so a half-written or half-deleted style never lists.
 * Styles whose recorded editor weights differ from the installed ones (editor.pt, the state_dict
 * every exported graph is made from) are flagged stale: a style is tokens + norm for those
 * weights, so a graph re-exported from the same weights keeps its styles.
 */
export class StyleStore {
  private weightsHash: { mtimeMs: number; hash: string | null } | null = null;

  constructor(
    readonly userDir: string,
    readonly builtinDir: string,
    private readonly editorWeights: string,
  ) {}

  /** The installed editor weights' hash (recomputed when the file changes). */
  editorHash(): string | null {
    let m = -1;
    try {
      m = fs.statSync(this.editorWeights).mtimeMs;
    } catch {
      return null;
    }
    if (this.weightsHash?.mtimeMs !== m) this.weightsHash = { mtimeMs: m, hash: fileHash(this.editorWeights) };
    return this.weightsHash.hash;
  }

  private read(dir: string, source: 'user' | 'builtin'): StyleInfo[] {
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    const cur = this.editorHash();
    const out: StyleInfo[] = [];
    for (const f of names) {
      try {
        const meta = StyleMetaSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
        if (meta.name !== f.slice(0, -5) || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(meta.name)) continue;
        const bin = fs.statSync(path.join(dir, `${meta.name}.bin`));
        if (bin.size < 4 * Math.max(meta.tokensOffset + meta.k * meta.d, meta.normOffset + meta.normDim)) continue;
        out.push({
          id: meta.name,
          label: meta.label ?? meta.name.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase()),
          source,
          pairs: meta.pairs,
          steps: meta.steps,
          createdAt: meta.createdAt ?? null,
          stale: !meta.editor?.weights || meta.editor.weights !== cur,
        });
      } catch {
        // A malformed or half-written file is not a style.
      }
    }
    return out;
  }

  list(): StyleInfo[] {
    const builtin = this.read(this.builtinDir, 'builtin');
    const ids = new Set(builtin.map((s) => s.id));
    const user = this.read(this.userDir, 'user').filter((s) => !ids.has(s.id));
    user.sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || a.id.localeCompare(b.id));
    return [...builtin, ...user];
  }

  presets(): PresetInfo[] {
    return this.list().map((s) => ({
      id: s.id,
      label: s.label,
      example: `adapted from ${s.pairs} pairs${s.stale ? ' (made for other editor weights)' : ''}`,
      kind: 'adapted' as const,
      stale: s.stale,
      deletable: s.source === 'user',
    }));
  }

  has(id: string): boolean {
    return fs.existsSync(path.join(this.userDir, `${id}.json`)) || fs.existsSync(path.join(this.builtinDir, `${id}.json`));
  }

  /** Moves a trainer's output (DIR/ID.json + ID.bin) into the user styles, after checking it. */
  install(fromDir: string, id: string, expect: { k: number; d: number; normDim: number } | null): StyleInfo {
    const meta = StyleMetaSchema.parse(JSON.parse(fs.readFileSync(path.join(fromDir, `${id}.json`), 'utf8')));
    if (meta.name !== id) throw new Error(`trainer wrote style ${meta.name}, expected ${id}`);
    if (expect && (meta.k !== expect.k || meta.d !== expect.d || meta.normDim !== expect.normDim)) throw new Error('style sizes do not match the editor');
    const bin = fs.readFileSync(path.join(fromDir, `${id}.bin`));
    const n = meta.normOffset + meta.normDim;
    if (bin.length !== 4 * Math.max(n, meta.tokensOffset + meta.k * meta.d)) throw new Error(`style file has ${bin.length} bytes`);
    const f = new Float32Array(bin.buffer, bin.byteOffset, bin.length / 4);
    for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i])) throw new Error('style holds non-finite numbers');
    fs.mkdirSync(this.userDir, { recursive: true });
    const dst = (ext: string) => path.join(this.userDir, `${id}${ext}`);
    fs.writeFileSync(dst('.bin.part'), bin);
    fs.renameSync(dst('.bin.part'), dst('.bin'));
    fs.writeFileSync(dst('.json.part'), JSON.stringify(meta, null, 1));
    fs.renameSync(dst('.json.part'), dst('.json'));
    const info = this.list().find((s) => s.id === id);
    if (!info) throw new Error('installed style does not list');
    return info;
  }

  delete(id: string): void {
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(id)) throw new ClientError('BAD_REQUEST', 'bad style id');
    if (fs.existsSync(path.join(this.builtinDir, `${id}.json`))) throw new ClientError('FORBIDDEN', 'built-in styles cannot be deleted');
    const j = path.join(this.userDir, `${id}.json`);
    if (!fs.existsSync(j)) throw new ClientError('NOT_FOUND', `no style "${id}"`);
    fs.rmSync(j);
    fs.rmSync(path.join(this.userDir, `${id}.bin`), { force: true });
  }
}
