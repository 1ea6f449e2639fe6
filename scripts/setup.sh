#!/usr/bin/env bash
# Sets up everything the product and its tests need on a fresh Debian 12 machine (root):
# system packages, npm dependencies, mediasoup's worker, the Python training venv, the client
# build. Idempotent: a second run only checks. Works offline (npm/PyPI/Debian registries only).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
t0=$(date +%s)

# 1. System packages: ffmpeg (codecs), Chromium (e2e tests), the toolchain and libraries the
#    mediasoup worker builds against when no prebuilt binary can be fetched.
APT_PKGS="ffmpeg chromium fonts-dejavu-core meson ninja-build pkg-config g++ libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler"
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  log "installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# 2. npm dependencies. mediasoup's postinstall would download a prebuilt worker (or meson
#    subprojects) and onnxruntime-node's would download CUDA libraries: both are skipped here
#    and handled below / not needed for the CPU build.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat node_modules/.pe-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  log "installing npm dependencies"
  MEDIASOUP_WORKER_BIN=none ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.pe-lock-hash
fi

# 3. mediasoup worker: the prebuilt binary where the internet allows, else built from
#    Debian's libraries (scripts/mediasoup-offline, ~4-7 min on 2 cores).
WORKER=node_modules/mediasoup/worker/out/Release/mediasoup-worker
if [ ! -x "$WORKER" ]; then
  if [ "${PE_OFFLINE:-}" = "1" ] || ! node scripts/mediasoup-prebuilt.mjs; then
    log "building the mediasoup worker from Debian's libraries (a few minutes; log: /tmp/mediasoup-worker-build.log)"
    if ! sh scripts/mediasoup-offline/build-worker.sh > /tmp/mediasoup-worker-build.log 2>&1; then
      tail -30 /tmp/mediasoup-worker-build.log; exit 1
    fi
  fi
fi
log "mediasoup worker: $(ls -la "$WORKER" | awk '{print $5}') bytes"

# 4. Python venv for training, export and the teacher engine.
if [ -f models/training/setup-venv.sh ]; then
  log "Python training environment"
  bash models/training/setup-venv.sh
fi

# 5. The browser client.
log "building the client"
npm run build -w client --silent >/dev/null
log "done in $(( $(date +%s) - t0 )) s"
