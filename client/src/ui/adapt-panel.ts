import './adapt-panel.css';
import { ADAPT_LIMITS, isPairImageName, pairKey, type AdaptJob, type PresetInfo, type StyleInfo } from '@portrait-edit/shared';

/**
 * "Teach a new style": pick 2–50 before/after pairs (files, a folder or a zip), name the style,
 * start a training job on the server, watch its progress (loss, elapsed, ETA), cancel it; the
 * finished style joins the preset gallery of every room (the gallery is re-read every few
 * seconds, and at once when a job of ours finishes). User styles can be deleted here.
 * What the browser can check (names, pairing, types, sizes, counts) is checked before upload;
 * the server checks everything again.
 */
export class AdaptPanel {
  readonly el: HTMLElement;
  private readonly files: HTMLInputElement;
  private readonly folder: HTMLInputElement;
  private readonly name: HTMLInputElement;
  private readonly minutes: HTMLSelectElement;
  private readonly start: HTMLButtonElement;
  private readonly plan: HTMLElement;
  private readonly msg: HTMLElement;
  private readonly jobsBox: HTMLElement;
  private readonly stylesBox: HTMLUListElement;
  private ready: { files: File[]; zip: File | null } | null = null;
  private readonly knownDone = new Set<string>();
  private lastPresets = '';
  private busy = false;
  private jobsTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly token: string,
    private readonly onPresets: (p: PresetInfo[]) => void,
  ) {
    this.el = document.createElement('details');
    this.el.className = 'adapt';
    this.el.dataset.testid = 'adapt-panel';
    this.el.innerHTML = `
      <summary>Teach a new style</summary>
      <form data-testid="adapt-form">
        <p class="hint">${ADAPT_LIMITS.minPairs}–${ADAPT_LIMITS.maxPairs} pairs of the same photo before and after the edit you want
          (about 10 is enough), named <code>x_before.png</code> / <code>x_after.png</code> or in <code>before/</code> and <code>after/</code> folders; or one .zip of them.</p>
        <label>Pairs <input type="file" name="files" multiple accept="image/png,image/jpeg,image/webp,.zip,application/zip" data-testid="adapt-files"></label>
        <label>…or a folder <input type="file" name="folder" webkitdirectory data-testid="adapt-folder"></label>
        <div class="plan" data-testid="adapt-plan"></div>
        <label>Style name <input type="text" name="name" maxlength="40" placeholder="e.g. Ocean blue" data-testid="adapt-name"></label>
        <label>Training time <select name="minutes" data-testid="adapt-minutes">
          <option value="1">1 min</option><option value="2">2 min</option><option value="5" selected>5 min</option><option value="10">10 min</option>
        </select></label>
        <button type="submit" disabled data-testid="adapt-start">Start training</button>
        <p class="msg" role="status" data-testid="adapt-msg"></p>
      </form>
      <div class="jobs" data-testid="adapt-jobs"></div>
      <ul class="styles-list" data-testid="adapt-styles"></ul>`;
    const q = <T extends Element>(s: string) => this.el.querySelector(s) as T;
    this.files = q('[name=files]');
    this.folder = q('[name=folder]');
    this.name = q('[name=name]');
    this.minutes = q('[name=minutes]');
    this.start = q('button[type=submit]');
    this.plan = q('.plan');
    this.msg = q('.msg');
    this.jobsBox = q('.jobs');
    this.stylesBox = q('.styles-list');
    this.files.addEventListener('change', () => this.pick([...(this.files.files ?? [])], false));
    this.folder.addEventListener('change', () => this.pick([...(this.folder.files ?? [])], true));
    this.name.addEventListener('input', () => this.updateStart());
    q('form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit();
    });
    void this.refreshPresets();
    void this.refreshStyles();
    setInterval(() => void this.refreshPresets(), 8000);
    this.pollJobs(0);
  }

  /** Relative path of a picked file (folders keep their structure). */
  private static pathOf(f: File): string {
    return (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
  }

  private pick(files: File[], fromFolder: boolean): void {
    this.ready = null;
    const zips = files.filter((f) => /\.zip$/i.test(f.name));
    const images = files.filter((f) => !/\.zip$/i.test(f.name));
    const problems: string[] = [];
    if (zips.length > 1) problems.push('pick one zip at a time');
    if (zips.length && images.length) problems.push('pick either a zip or image files, not both');
    for (const z of zips) if (z.size > ADAPT_LIMITS.maxRequestBytes) problems.push(`${z.name} is larger than ${ADAPT_LIMITS.maxRequestBytes / 1024 / 1024} MB`);
    const before = new Set<string>();
    const after = new Set<string>();
    const used: File[] = [];
    let total = 0;
    for (const f of images) {
      const p = AdaptPanel.pathOf(f);
      if (p.split('/').some((s) => s.startsWith('.'))) continue;
      if (!isPairImageName(p)) {
        // A folder often holds other files; only images need the naming rule.
        if (!fromFolder) problems.push(`${p}: not a PNG, JPEG or WebP image`);
        continue;
      }
      const k = pairKey(p);
      if (!k) {
        problems.push(`${p}: name it NAME_before / NAME_after, or put it in a before/ or after/ folder`);
        continue;
      }
      if (f.size > ADAPT_LIMITS.maxFileBytes) problems.push(`${p} is larger than ${ADAPT_LIMITS.maxFileBytes / 1024 / 1024} MB`);
      (k.side === 'before' ? before : after).add(k.key);
      used.push(f);
      total += f.size;
    }
    if (!zips.length) {
      for (const k of before) if (!after.has(k)) problems.push(`${k}: has a before image but no after image`);
      for (const k of after) if (!before.has(k)) problems.push(`${k}: has an after image but no before image`);
      const n = [...before].filter((k) => after.has(k)).length;
      if (n < ADAPT_LIMITS.minPairs) problems.push(`${n} pair${n === 1 ? '' : 's'}: at least ${ADAPT_LIMITS.minPairs} are needed`);
      if (n > ADAPT_LIMITS.maxPairs) problems.push(`${n} pairs: at most ${ADAPT_LIMITS.maxPairs}`);
      if (total > ADAPT_LIMITS.maxRequestBytes) problems.push(`the pairs add up to more than ${ADAPT_LIMITS.maxRequestBytes / 1024 / 1024} MB`);
      if (!problems.length) {
        this.ready = { files: used, zip: null };
        this.showPlan(`${n} pairs ready.`, []);
      }
    } else if (!problems.length) {
      this.ready = { files: [], zip: zips[0] };
      this.showPlan(`${zips[0].name}: the server will read the pairs from it.`, []);
    }
    if (problems.length) this.showPlan('These files cannot be used:', problems);
    if (!this.name.value && this.ready) this.name.value = (this.ready.zip?.name ?? AdaptPanel.pathOf(files[0]).split('/')[0]).replace(/\.(zip|png|jpe?g|webp)$/i, '').replace(/[_-](before|after)$/i, '').slice(0, 40);
    this.updateStart();
  }

  private showPlan(head: string, items: string[]): void {
    this.plan.textContent = head;
    this.plan.classList.toggle('error', items.length > 0);
    if (items.length) {
      const ul = document.createElement('ul');
      for (const t of items.slice(0, 8)) {
        const li = document.createElement('li');
        li.textContent = t;
        ul.appendChild(li);
      }
      if (items.length > 8) {
        const li = document.createElement('li');
        li.textContent = `…and ${items.length - 8} more`;
        ul.appendChild(li);
      }
      this.plan.appendChild(ul);
    }
  }

  private updateStart(): void {
    this.start.disabled = this.busy || !this.ready || !this.name.value.trim();
  }

  private say(m: string, error = false): void {
    this.msg.textContent = m;
    this.msg.classList.toggle('error', error);
  }

  private async submit(): Promise<void> {
    if (!this.ready) return;
    const fd = new FormData();
    fd.append('name', this.name.value.trim());
    fd.append('minutes', this.minutes.value);
    if (this.ready.zip) fd.append('zip', this.ready.zip, this.ready.zip.name);
    for (const f of this.ready.files) fd.append('file', f, AdaptPanel.pathOf(f));
    this.busy = true;
    this.updateStart();
    this.say('Uploading and checking the pairs…');
    try {
      const res = await fetch('/api/adapt/jobs', { method: 'POST', headers: { authorization: `Bearer ${this.token}` }, body: fd });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        const details: string[] = body.error?.details ?? [];
        this.say(body.error?.message ?? `could not start (${res.status})`, true);
        if (details.length) this.showPlan('The server refused:', details);
        return;
      }
      const job = body.job as AdaptJob;
      this.say(`Training "${job.label}"${job.skipped.length ? ` (${job.skipped.length} pair(s) skipped: no face)` : ''}.`);
      this.files.value = '';
      this.folder.value = '';
      this.ready = null;
      this.plan.textContent = '';
      this.pollJobs(0);
    } catch (err) {
      this.say((err as Error).message, true);
    } finally {
      this.busy = false;
      this.updateStart();
    }
  }

  private pollJobs(delay: number): void {
    if (this.jobsTimer) clearTimeout(this.jobsTimer);
    this.jobsTimer = setTimeout(async () => {
      let active = false;
      try {
        const res = await fetch('/api/adapt/jobs', { headers: { authorization: `Bearer ${this.token}` } });
        if (res.ok) {
          const { jobs } = (await res.json()) as { jobs: AdaptJob[] };
          active = jobs.some((j) => j.state === 'queued' || j.state === 'running');
          this.renderJobs(jobs);
          const fresh = jobs.filter((j) => j.state === 'done' && !this.knownDone.has(j.id));
          for (const j of fresh) this.knownDone.add(j.id);
          if (fresh.length) {
            void this.refreshPresets();
            void this.refreshStyles();
          }
        }
      } catch {
        // the server is restarting or gone: try again later
      }
      this.pollJobs(active ? 1000 : 5000);
    }, delay);
  }

  private renderJobs(jobs: AdaptJob[]): void {
    const shown = jobs.filter((j) => j.state === 'queued' || j.state === 'running' || (j.finishedAt && Date.now() - j.finishedAt < 10 * 60_000));
    this.jobsBox.replaceChildren(
      ...shown.map((j) => {
        const div = document.createElement('div');
        div.className = `job ${j.state}`;
        div.dataset.testid = 'adapt-job';
        div.dataset.state = j.state;
        div.dataset.styleId = j.styleId;
        const title = document.createElement('span');
        title.className = 'title';
        title.textContent = `${j.label} · ${j.pairs} pairs · ${j.state === 'queued' ? `queued (#${(j.queuePosition ?? 0) + 1} in line)` : j.state}`;
        div.appendChild(title);
        if (j.state === 'queued' || j.state === 'running') {
          const cancel = document.createElement('button');
          cancel.type = 'button';
          cancel.textContent = 'Cancel';
          cancel.dataset.testid = 'adapt-cancel';
          cancel.addEventListener('click', async () => {
            cancel.disabled = true;
            await fetch(`/api/adapt/jobs/${j.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${this.token}` } }).catch(() => {});
            this.pollJobs(0);
          });
          div.appendChild(cancel);
        } else div.appendChild(document.createElement('span'));
        const bar = document.createElement('progress');
        bar.max = 1;
        bar.value = j.fraction;
        div.appendChild(bar);
        const nums = document.createElement('span');
        nums.className = 'numbers';
        nums.textContent =
          j.state === 'failed' ? (j.error ?? 'failed')
            : j.state === 'done' ? `ready: pick "${j.label}" in the gallery (${j.step} steps, loss ${j.loss?.toFixed(3) ?? '–'})`
              : j.state === 'running'
                ? j.phase === 'training'
                  ? `step ${j.step} · loss ${j.loss?.toFixed(3) ?? '–'} · ${clock(j.elapsedS)} of ${clock(j.budgetS)} · ETA ${j.etaS === null ? '–' : clock(j.etaS)}`
                  : `${j.phase === 'faces' ? 'finding faces' : j.phase ?? 'starting'}…`
                : j.state;
        div.appendChild(nums);
        return div;
      }),
    );
  }

  private async refreshPresets(): Promise<void> {
    try {
      const { presets } = (await (await fetch('/api/presets')).json()) as { presets: PresetInfo[] };
      const key = JSON.stringify(presets);
      if (key === this.lastPresets) return;
      this.lastPresets = key;
      this.onPresets(presets);
    } catch {
      // keep the gallery we have
    }
  }

  private async refreshStyles(): Promise<void> {
    let styles: StyleInfo[];
    try {
      ({ styles } = (await (await fetch('/api/styles')).json()) as { styles: StyleInfo[] });
    } catch {
      return;
    }
    this.stylesBox.replaceChildren(
      ...styles.map((s) => {
        const li = document.createElement('li');
        li.dataset.styleId = s.id;
        const name = document.createElement('span');
        name.textContent = `${s.label} (${s.pairs} pairs)`;
        if (s.stale) {
          const st = document.createElement('span');
          st.className = 'stale';
          st.textContent = ' made for older editor weights';
          st.title = 'The editor was retrained after this style was made: teach it again for best results';
          name.appendChild(st);
        }
        li.appendChild(name);
        if (s.source === 'user') {
          const del = document.createElement('button');
          del.type = 'button';
          del.textContent = 'Delete';
          del.dataset.testid = 'adapt-delete';
          del.addEventListener('click', async () => {
            if (del.dataset.armed !== '1') {
              del.dataset.armed = '1';
              del.textContent = 'Really delete?';
              return;
            }
            del.disabled = true;
            const res = await fetch(`/api/styles/${encodeURIComponent(s.id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${this.token}` } }).catch(() => null);
            if (!res?.ok) this.say(`could not delete ${s.label}`, true);
            void this.refreshStyles();
            void this.refreshPresets();
          });
          li.appendChild(del);
        }
        return li;
      }),
    );
  }
}

function clock(s: number): string {
  const t = Math.max(0, Math.round(s));
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}
