/**
 * Thumbnails for the preset gallery: each preset applied by the editor to the participant's
 * own face, made in their filter worker on request (signalling 'presetThumbnails'). They need
 * a running filter that has seen a face, so the gallery asks when the filter comes on, retries
 * a few times while it starts, and again on demand.
 */
/** Presets per request: each request's previews are made in well under the signalling timeout. */
const BATCH = 4;

export class PresetThumbnails {
  private busy = false;
  private done = false;
  private tries = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly box: HTMLElement,
    private readonly request: (ids: string[]) => Promise<Record<string, string>>,
    private readonly say: (msg: string, isError?: boolean) => void,
  ) {}

  /** The filter is on (or just came on): fetch thumbnails unless we have them. */
  filterOn(): void {
    if (this.done || this.busy || this.timer) return;
    this.tries = 0;
    this.timer = setTimeout(() => void this.load(false), 2000);
  }

  /** Asked for by the user: always fetch, and say why when it fails. */
  async refresh(): Promise<void> {
    this.done = false;
    await this.load(true);
  }

  private async load(loud: boolean): Promise<void> {
    this.timer = null;
    const buttons = [...this.box.querySelectorAll<HTMLButtonElement>('button[data-preset]')];
    if (buttons.length === 0 || this.busy) return;
    this.busy = true;
    // A retry fills in what is missing; the user's own request redoes them all (their face now).
    const todo = loud ? buttons : buttons.filter((b) => !b.querySelector('img'));
    try {
      // A few at a time, each shown as it comes: on a loaded server one request for all of them
      // outlasted the signalling timeout (measured: 10 s) and showed nothing at all.
      for (let i = 0; i < todo.length; i += BATCH) {
        const chunk = todo.slice(i, i + BATCH);
        const images = await this.request(chunk.map((b) => b.dataset.preset!));
        for (const b of chunk) {
          const src = images[b.dataset.preset!];
          if (!src) continue;
          let img = b.querySelector('img');
          if (!img) {
            img = document.createElement('img');
            img.alt = '';
            b.prepend(img);
          }
          img.src = src;
        }
        this.box.dataset.thumbnails = String(buttons.filter((b) => b.querySelector('img')).length);
      }
      this.done = true;
      this.box.dataset.thumbnailsComplete = 'true';
    } catch (err) {
      if (loud) this.say(`Previews: ${(err as Error).message}`, true);
      // The filter may still be starting or not have seen a face yet.
      else if (++this.tries < 12) this.timer = setTimeout(() => void this.load(false), 5000);
    } finally {
      this.busy = false;
    }
  }
}

/**
 * Reference images uploaded in this session, newest first: one click switches back to one
 * (the server keeps them for the room), so flipping between image prompts needs no new upload.
 */
export class RecentReferences {
  readonly el: HTMLElement;
  private readonly items: { uploadId: string; button: HTMLButtonElement }[] = [];

  constructor(private readonly pick: (uploadId: string) => void, private readonly max = 6) {
    this.el = document.createElement('div');
    this.el.className = 'recent-references';
    this.el.dataset.testid = 'recent-references';
  }

  add(uploadId: string, src: string, name: string): void {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.uploadId = uploadId;
    b.title = `Use ${name} again`;
    const img = document.createElement('img');
    img.src = src;
    img.alt = name;
    b.appendChild(img);
    b.addEventListener('click', () => this.pick(uploadId));
    this.el.prepend(b);
    this.items.unshift({ uploadId, button: b });
    while (this.items.length > this.max) {
      const old = this.items.pop()!;
      old.button.remove();
      const src = old.button.querySelector('img')?.src;
      if (src?.startsWith('blob:')) URL.revokeObjectURL(src);
    }
  }

  /** Marks the reference in use (if any). */
  show(uploadId: string | null): void {
    for (const it of this.items) it.button.classList.toggle('active', it.uploadId === uploadId);
  }
}
