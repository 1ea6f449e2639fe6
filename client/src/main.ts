import './style.css';
import type { types } from 'mediasoup-client';
import type { FilterSettings, FilterStats, StreamInfo } from '@portrait-edit/shared';
import { Call } from './call.js';
import { Panel } from './ui/panel.js';
import { AdaptPanel } from './ui/adapt-panel.js';
import { Tile } from './ui/tile.js';

const app = document.getElementById('app')!;
const params = new URLSearchParams(location.search);
const roomId = params.get('room');
const token = params.get('token');

/** Handles for end-to-end tests and for people poking at a call from the console. */
const debug = { state: 'idle' as string, peerId: '', tiles: new Map<string, Tile>(), stats: new Map<string, FilterStats>(), call: null as Call | null, errors: [] as string[] };
(window as unknown as { __pe: typeof debug }).__pe = debug;

if (!roomId || !token) void landing();
else if (params.get('view') === '1') void viewer(roomId, token);
else void room(roomId, token);

/** Key out a participant's background in their tile when they send it keyed (settings.background). */
function keyFor(tile: Tile, s: FilterSettings | undefined): void {
  tile.setKeying(!!s && s.enabled && s.background === 'key' && tile.processed);
}

/** The payload of a room token (the server checks the signature; the page only reads it). */
function tokenPayload(t: string): { peer?: string; role?: string } {
  try {
    return JSON.parse(atob(t.split('.')[0].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return {};
  }
}

/**
 * View-only page for one participant's edited stream (an OBS browser source): no controls,
 * no camera, the video filling the window.
 */
async function viewer(roomId: string, token: string): Promise<void> {
  document.body.classList.add('viewer');
  // OBS browser source: what the participant keyed out shows as real transparency.
  if (params.get('transparent') === '1') document.body.classList.add('transparent');
  app.innerHTML = `<div class="stage" data-testid="viewer-stage"></div><p class="notice" role="alert"></p>`;
  const stage = app.querySelector('.stage') as HTMLElement;
  const target = tokenPayload(token).peer;
  const call = new Call(token);
  debug.call = call;
  let tile: Tile | null = null;
  call.on('track', async (peerId, kind, consumer, info) => {
    if (peerId !== target || kind !== 'video' || !consumer) return;
    if (!tile) {
      tile = new Tile(peerId, '', false);
      debug.tiles.set(peerId, tile);
      stage.appendChild(tile.el);
    }
    const replaced = await tile.show(new MediaStream([consumer.track]), consumer, info.processed, info.producerId);
    if (replaced && replaced !== consumer) call.release(replaced);
    keyFor(tile, call.peers.get(peerId)?.settings);
  });
  call.on('peerSettings', (id, s) => {
    if (id === target && tile) keyFor(tile, s);
  });
  call.on('peerLeft', (id) => {
    if (id === target) (app.querySelector('.notice') as HTMLElement).textContent = 'The participant left the call.';
  });
  try {
    await call.join('viewer', null);
    debug.peerId = call.peerId;
    debug.state = 'joined';
  } catch (err) {
    debug.state = 'failed';
    (app.querySelector('.notice') as HTMLElement).textContent = `Could not open the view: ${(err as Error).message}`;
  }
}

async function landing(): Promise<void> {
  app.innerHTML = `
    <main class="landing">
      <h1>Portrait Edit</h1>
      <p>A live, 3D-aware portrait filter for video calls: restyle your face from a text or image prompt, or re-render your head from another viewpoint.</p>
      <button data-testid="create-room">Start a call</button>
      <p class="status" role="status"></p>
    </main>`;
  const btn = app.querySelector('button')!;
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    const res = await fetch('/api/rooms', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const body = await res.json();
    if (!res.ok) {
      app.querySelector('.status')!.textContent = body.error?.message ?? 'could not create a room';
      btn.disabled = false;
      return;
    }
    sessionStorage.setItem(`pe-invite-${body.roomId}`, body.guestToken);
    location.search = `?room=${body.roomId}&token=${body.hostToken}`;
  });
}

async function room(roomId: string, token: string): Promise<void> {
  app.innerHTML = `
    <header><h1>Portrait Edit</h1><span class="room">room ${roomId}</span>
      <button class="invite" data-testid="invite">Copy invite link</button>
      <button class="viewer-link" data-testid="viewer-link" title="A page with just your edited video, e.g. for an OBS browser source">Viewer link</button>
      <button class="leave" data-testid="leave">Leave</button></header>
    <div class="layout"><section class="grid" data-testid="grid"></section></div>
    <p class="notice" role="alert" data-testid="notice"></p>`;
  const grid = app.querySelector('.grid') as HTMLElement;
  const layout = app.querySelector('.layout') as HTMLElement;
  const notice = app.querySelector('.notice') as HTMLElement;
  const say = (msg: string) => {
    notice.textContent = msg;
    if (msg) debug.errors.push(msg);
  };

  const call = new Call(token);
  debug.call = call;
  let lastOwnSettings: FilterSettings | undefined;
  const panel = new Panel(
    async (p) => {
      const { settings } = await call.setFilter(p);
      lastOwnSettings = settings;
      panel.show(settings);
      const t = debug.tiles.get(`${call.peerId}#edited`);
      if (t) keyFor(t, settings);
    },
    async (file) => {
      const res = await fetch('/api/uploads', { method: 'POST', headers: { 'content-type': file.type, authorization: `Bearer ${token}` }, body: file });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body.error?.message ?? `upload failed (${res.status})`);
      return body;
    },
    async (ids) => (await call.sig.request<{ images: Record<string, string> }>({ type: 'presetThumbnails', presets: ids })).images,
  );
  layout.appendChild(panel.el);
  // Style training; it keeps the preset gallery current (styles made in any room appear here).
  panel.el.appendChild(new AdaptPanel(token, (p) => panel.setPresets(p)).el);
  void fetch('/api/health').then((r) => r.json()).then((h) => panel.setEngine(h.processor)).catch(() => {});
  void fetch('/api/presets').then((r) => r.json()).then((p) => panel.setPresets(p.presets)).catch(() => {});

  const invite = sessionStorage.getItem(`pe-invite-${roomId}`);
  app.querySelector('.invite')!.addEventListener('click', () => {
    const link = `${location.origin}/?room=${roomId}&token=${invite ?? token}`;
    void navigator.clipboard?.writeText(link).catch(() => {});
    say(`Invite link: ${link}`);
  });
  app.querySelector('.viewer-link')!.addEventListener('click', async () => {
    try {
      const { token: vt } = await call.sig.request<{ token: string }>({ type: 'createViewerLink' });
      const link = `${location.origin}/?view=1&room=${roomId}&token=${vt}`;
      void navigator.clipboard?.writeText(link).catch(() => {});
      say(`View-only link (OBS browser source): ${link}`);
    } catch (err) {
      say((err as Error).message);
    }
  });
  app.querySelector('.leave')!.addEventListener('click', () => {
    call.leave();
    location.href = '/';
  });

  const tileOf = (peerId: string, name = '') => {
    let t = debug.tiles.get(peerId);
    if (!t) {
      t = new Tile(peerId, name || call.peers.get(peerId)?.displayName || 'guest', peerId === call.peerId);
      debug.tiles.set(peerId, t);
      if (peerId === call.peerId) grid.prepend(t.el);
      else grid.appendChild(t.el);
    }
    return t;
  };

  call.on('peerJoined', (p) => {
    if (p.role !== 'viewer') tileOf(p.id, p.displayName).setName(p.displayName);
  });
  call.on('peerLeft', (id) => {
    debug.tiles.get(id)?.close();
    debug.tiles.delete(id);
    debug.stats.delete(id);
  });
  call.on('peerSettings', (id, s) => {
    if (id === call.peerId) panel.show(s);
    const t = debug.tiles.get(id === call.peerId ? `${id}#edited` : id);
    if (t) keyFor(t, s);
  });
  call.on('track', (peerId, kind, consumer, info) => void showTrack(peerId, kind, consumer, info));
  call.on('trackClosed', (peerId, kind) => {
    if (kind === 'video' && peerId !== call.peerId) debug.tiles.get(peerId)?.el.classList.add('no-video');
  });
  call.on('stats', (s) => {
    debug.stats.set(s.peerId, s);
    if (s.peerId === call.peerId) panel.filterStatus(s);
    debug.tiles.get(s.peerId)?.setServerStats(s);
    debug.tiles.get(`${s.peerId}#edited`)?.setServerStats(s);
  });
  call.on('notice', (level, message) => say(`${level === 'error' ? '⚠ ' : ''}${message}`));
  call.on('disconnected', (reason) => {
    debug.state = 'disconnected';
    say(`Disconnected from the server (${reason}). Reload to rejoin.`);
  });

  async function showTrack(peerId: string, kind: 'audio' | 'video', consumer: types.Consumer | null, info: StreamInfo) {
    if (peerId === call.peerId && kind === 'video' && info.producerId) {
      // Our own video: the raw camera stays in our tile; the edited stream gets a preview tile beside it.
      const key = `${peerId}#edited`;
      if (!info.processed) {
        const t = debug.tiles.get(key);
        if (t) call.closeConsumer(t.consumer!);
        t?.close();
        debug.tiles.delete(key);
        return;
      }
      let t = debug.tiles.get(key);
      if (!t) {
        t = new Tile(key, 'you, edited', false);
        t.el.dataset.testid = 'tile-self-edited';
        debug.tiles.set(key, t);
        tileOf(peerId).el.after(t.el);
      }
      const replaced = await t.show(new MediaStream([consumer!.track]), consumer, true, info.producerId);
      if (replaced && replaced !== consumer) call.release(replaced);
      keyFor(t, call.peers.get(peerId)?.settings ?? lastOwnSettings);
      return;
    }
    const tile = tileOf(peerId);
    if (kind === 'audio') {
      if (!consumer) return;
      tile.audio?.remove();
      tile.audio = document.createElement('audio');
      tile.audio.autoplay = true;
      tile.audio.srcObject = new MediaStream([consumer.track]);
      tile.el.appendChild(tile.audio);
      return;
    }
    tile.el.classList.remove('no-video');
    const stream = consumer ? new MediaStream([consumer.track]) : call.localStream!;
    const replaced = await tile.show(stream, consumer, info.processed, info.producerId);
    if (replaced && replaced !== consumer) call.release(replaced);
    if (peerId !== call.peerId) keyFor(tile, call.peers.get(peerId)?.settings);
  }

  setInterval(() => {
    for (const t of debug.tiles.values()) void t.refreshStats().catch(() => {});
  }, 1000);

  try {
    debug.state = 'camera';
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 30 } },
      audio: true,
    });
    debug.state = 'joining';
    const name = params.get('name') || `guest-${Math.random().toString(36).slice(2, 6)}`;
    await call.join(name, stream);
    debug.peerId = call.peerId;
    tileOf(call.peerId, name);
    await showTrack(call.peerId, 'video', null, { peerId: call.peerId, kind: 'video', producerId: '', processed: false });
    debug.state = 'joined';
  } catch (err) {
    debug.state = 'failed';
    say(`Could not join: ${(err as Error).message}`);
  }
}
