// Fetches mediasoup's own prebuilt worker for this platform, as its postinstall would, with a
// short timeout. Exit 0 when the binary is in place, 1 otherwise (no internet, no prebuilt
// for this platform): the caller then builds the worker from Debian's libraries.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = path.resolve('node_modules/mediasoup');
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
let name = `mediasoup-worker-${pkg.version}-${os.platform()}-${os.arch()}`;
if (os.platform() === 'linux') name += `-kernel${Number(os.release().split('.')[0])}`;
const base = `${pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '')}/releases/download`;
const url = `${base}/${pkg.version}/${name}.tgz`;
const out = path.join(dir, 'worker/out/Release');
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const tgz = path.join(os.tmpdir(), `${name}.tgz`);
  fs.writeFileSync(tgz, Buffer.from(await res.arrayBuffer()));
  fs.mkdirSync(out, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', out]);
  execFileSync(path.join(out, 'mediasoup-worker'), ['--version'], { env: { MEDIASOUP_VERSION: pkg.version }, stdio: 'ignore' });
  console.log(`[setup] mediasoup prebuilt worker ${pkg.version} installed`);
} catch (err) {
  console.log(`[setup] no prebuilt mediasoup worker (${err.cause?.code ?? err.message}); building it locally`);
  fs.rmSync(path.join(out, 'mediasoup-worker'), { force: true });
  process.exit(1);
}
