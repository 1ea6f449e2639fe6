import type { RunningServer } from '@portrait-edit/server';
import type { FilterStats } from '@portrait-edit/shared';

/** The p-quantile of xs (nearest rank), to 0.1; null for no samples. */
export const q = (xs: number[], p: number): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 10) / 10;
};

/** Every edited stream's filter stats, across the server's rooms. */
export function allStats(server: RunningServer): FilterStats[] {
  return server.registry.liveRooms().flatMap((r) => r.filterStats());
}
