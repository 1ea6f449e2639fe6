import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Preset {
  id: string;
  label: string;
  /** A phrasing the editor was trained on, shown as an example prompt. */
  example: string;
}

const ASSETS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models', 'assets', 'editor');

/**
 * The preset gallery: one preset per style the editor was trained on (read from the exported
 * prompt bank, models/assets/editor/prompts.json). Empty when no editor is installed.
 */
export function loadPresets(dir = ASSETS): Preset[] {
  const file = path.join(dir, 'prompts.json');
  if (!fs.existsSync(file)) return [];
  const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as { styles: string[]; phrasings: { style: string; text: string; split: string }[] };
  return meta.styles.map((style) => ({
    id: style.replace(/_/g, '-'),
    label: style.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()),
    example: meta.phrasings.find((p) => p.style === style && p.split === 'train')?.text ?? style,
  }));
}
