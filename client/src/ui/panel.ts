import { VIEW_LIMITS, type FilterSettings, type FilterSettingsPatch } from '@portrait-edit/shared';
import { PresetThumbnails, RecentReferences } from './gallery.js';

/**
 * The control panel: filter on/off, prompt, strength, viewpoint, tracker overlay. Every
 * control sends only what changed; the server answers with the settings in force.
 */
export class Panel {
  readonly el: HTMLElement;
  private enabled!: HTMLInputElement;
  private prompt!: HTMLInputElement;
  private strength!: HTMLInputElement;
  private yaw!: HTMLInputElement;
  private pitch!: HTMLInputElement;
  private frontalize!: HTMLInputElement;
  private overlay!: HTMLInputElement;
  private background!: HTMLInputElement;
  private thumbs: PresetThumbnails | null = null;
  private readonly recent = new RecentReferences((uploadId) => void this.apply({ prompt: { kind: 'image', uploadId } }));
  private status!: HTMLElement;
  private engine!: HTMLElement;
  /** Counts prompt choices, so an upload that finishes after a newer choice does not override it. */
  private promptChoice = 0;

  constructor(
    private readonly send: (p: FilterSettingsPatch) => Promise<void>,
    private readonly upload: (f: File) => Promise<{ uploadId: string; hasFace: boolean; width: number; height: number }>,
    thumbnails?: (ids: string[]) => Promise<Record<string, string>>,
  ) {
    this.el = document.createElement('aside');
    this.el.className = 'panel';
    this.el.innerHTML = `
      <h2>Filter</h2>
      <label class="row"><input type="checkbox" data-testid="filter-toggle" name="enabled"> Edit my video</label>
      <p class="engine" data-testid="engine"></p>
      <form class="prompt" data-testid="prompt-form">
        <label>Prompt <input type="text" name="prompt" maxlength="200" placeholder="a golden statue, pencil sketch…"></label>
        <button type="submit">Apply</button>
      </form>
      <div class="presets" data-testid="presets" aria-label="Preset styles"></div>
      <button type="button" class="preview-presets" data-testid="preview-presets">Preview presets on my face</button>
      <label class="upload">Reference image <input type="file" name="reference" accept="image/png,image/jpeg,image/webp" data-testid="reference-upload"></label>
      <div class="reference" data-testid="reference-info"></div>
      <label>Strength <input type="range" name="strength" min="0" max="1" step="0.05" value="1"></label>
      <label>Yaw <input type="range" name="yaw" min="-${VIEW_LIMITS.yaw}" max="${VIEW_LIMITS.yaw}" step="1" value="0"></label>
      <label>Pitch <input type="range" name="pitch" min="-${VIEW_LIMITS.pitch}" max="${VIEW_LIMITS.pitch}" step="1" value="0"></label>
      <label class="row"><input type="checkbox" name="frontalize"> Face the camera</label>
      <label class="row" title="Paint the background in a key colour; the view-only page with &amp;transparent=1 shows it transparent (OBS)"><input type="checkbox" name="background" data-testid="background-key"> Cut out my background</label>
      <label class="row"><input type="checkbox" name="debugOverlay"> Show face tracking</label>
      <p class="status" data-testid="panel-status" role="status"></p>`;
    const q = (n: string) => this.el.querySelector(`[name="${n}"]`) as HTMLInputElement;
    this.enabled = q('enabled');
    this.prompt = q('prompt');
    this.strength = q('strength');
    this.yaw = q('yaw');
    this.pitch = q('pitch');
    this.frontalize = q('frontalize');
    this.overlay = q('debugOverlay');
    this.background = q('background');
    this.status = this.el.querySelector('.status')!;
    this.engine = this.el.querySelector('.engine')!;

    this.enabled.addEventListener('change', () => this.apply({ enabled: this.enabled.checked }));
    this.el.querySelector('form')!.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = this.prompt.value.trim();
      if (!text) return this.say('Type a prompt first (e.g. "a bronze statue").', true);
      void this.apply({ prompt: { kind: 'text', text } });
    });
    this.strength.addEventListener('input', () => this.coalesce({ strength: Number(this.strength.value) }));
    const view = () => this.coalesce({ view: { yaw: Number(this.yaw.value), pitch: Number(this.pitch.value) } });
    this.yaw.addEventListener('input', view);
    this.pitch.addEventListener('input', view);
    this.frontalize.addEventListener('change', () => this.apply({ view: { frontalize: this.frontalize.checked } }));
    this.overlay.addEventListener('change', () => this.apply({ debugOverlay: this.overlay.checked }));
    this.background.addEventListener('change', () => this.apply({ background: this.background.checked ? 'key' : 'keep' }));
    const previewBtn = this.el.querySelector('.preview-presets') as HTMLButtonElement;
    if (thumbnails) {
      this.thumbs = new PresetThumbnails(this.el.querySelector('.presets')!, thumbnails, (m, e) => this.say(m, e));
      previewBtn.addEventListener('click', () => void this.thumbs!.refresh());
    } else {
      previewBtn.hidden = true;
    }
    this.el.querySelector('.reference')!.after(this.recent.el);
    const ref = q('reference');
    ref.addEventListener('change', async () => {
      const f = ref.files?.[0];
      ref.value = '';
      if (f) await this.useReference(f);
    });
  }

  /** Checks what the browser can (type, size) before uploading; the server checks it all again. */
  private async useReference(f: File): Promise<void> {
    const info = this.el.querySelector('.reference') as HTMLElement;
    if (!['image/png', 'image/jpeg', 'image/webp'].includes(f.type)) return this.say(`${f.name}: not a PNG, JPEG or WebP image`, true);
    if (f.size > 5 * 1024 * 1024) return this.say(`${f.name} is larger than 5 MB`, true);
    this.say(`Uploading ${f.name}…`);
    const choice = ++this.promptChoice;
    try {
      const u = await this.upload(f);
      if (choice !== this.promptChoice) {
        // A prompt picked while this uploaded is the newer choice: it stays on; the reference
        // waits one click away.
        this.recent.add(u.uploadId, URL.createObjectURL(f), f.name);
        this.say(`${f.name} uploaded; your newer choice stays on (the reference is in your recent ones)`);
        return;
      }
      await this.send({ prompt: { kind: 'image', uploadId: u.uploadId } });
      info.innerHTML = '';
      const img = document.createElement('img');
      img.src = URL.createObjectURL(f);
      img.alt = f.name;
      const cap = document.createElement('span');
      cap.textContent = `${u.width}×${u.height}${u.hasFace ? '' : ' · no face found: used for its style only'}`;
      info.append(img, cap);
      this.recent.add(u.uploadId, URL.createObjectURL(f), f.name);
      this.recent.show(u.uploadId);
      this.say('');
    } catch (err) {
      this.say((err as Error).message, true);
    }
  }

  private pending: FilterSettingsPatch | null = null;

  /** Sliders fire dozens of events a second; send the latest values at most ~15 times a second. */
  private coalesce(p: FilterSettingsPatch): void {
    const first = this.pending === null;
    this.pending = { ...this.pending, ...p, view: { ...this.pending?.view, ...p.view } };
    if (!this.pending.view || Object.keys(this.pending.view).length === 0) delete this.pending.view;
    if (!first) return;
    setTimeout(() => {
      const q = this.pending!;
      this.pending = null;
      void this.apply(q);
    }, 66);
  }

  private async apply(p: FilterSettingsPatch): Promise<void> {
    if (p.prompt !== undefined) this.promptChoice++;
    try {
      await this.send(p);
      this.say('');
    } catch (err) {
      this.say((err as Error).message, true);
    }
  }

  /** The preset gallery: one button per style the editor knows. */
  setPresets(presets: { id: string; label: string; example: string }[]): void {
    const box = this.el.querySelector('.presets') as HTMLElement;
    box.innerHTML = '';
    for (const p of presets) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = p.label;
      b.title = `e.g. "${p.example}"`;
      b.dataset.preset = p.id;
      b.addEventListener('click', () => this.apply({ prompt: { kind: 'preset', id: p.id } }));
      box.appendChild(b);
    }
  }

  setEngine(processor: string): void {
    this.engine.textContent =
      processor === 'passthrough'
        ? 'No editor is loaded on this server yet: frames go through the filter loop unedited.'
        : `Engine: ${processor}`;
  }

  show(s: FilterSettings): void {
    this.enabled.checked = s.enabled;
    this.strength.value = String(s.strength);
    this.yaw.value = String(s.view.yaw);
    this.pitch.value = String(s.view.pitch);
    this.frontalize.checked = s.view.frontalize;
    this.overlay.checked = s.debugOverlay;
    this.background.checked = s.background === 'key';
    this.recent.show(s.prompt?.kind === 'image' ? s.prompt.uploadId : null);
    if (s.enabled) this.thumbs?.filterOn();
    if (s.prompt?.kind === 'text' && document.activeElement !== this.prompt) this.prompt.value = s.prompt.text;
    const current = s.prompt?.kind === 'preset' ? s.prompt.id : null;
    for (const b of this.el.querySelectorAll<HTMLButtonElement>('.presets button')) b.classList.toggle('active', b.dataset.preset === current);
  }

  /**
   * The server's stats for our own stream: when our filter could not run (the server's cap on
   * edited streams was reached, or it failed and gave up), say why here, where the toggle is.
   */
  filterStatus(s: { state: string; passthroughReason: string | null }): void {
    const shown = this.status.dataset.filterReason;
    if (s.state === 'failed' && s.passthroughReason) {
      this.status.dataset.filterReason = s.passthroughReason;
      if (this.status.textContent !== s.passthroughReason) this.say(s.passthroughReason, true);
    } else if (shown !== undefined) {
      delete this.status.dataset.filterReason;
      if (this.status.textContent === shown) this.say('');
    }
  }

  say(msg: string, isError = false): void {
    this.status.textContent = msg;
    this.status.classList.toggle('error', isError);
  }
}
