// The testers' bad-network form: drop rate in percent (0-100) and added
// latency in ms (0-60000), checked before `set_network` is called.
import type { NetMode } from '../api/types';

export const MAX_LATENCY_MS = 60_000;

export interface NetForm {
  drop: string;
  latency: string;
}

export type NetFormResult =
  | { ok: true; mode: NetMode }
  | { ok: false; errors: { drop?: string; latency?: string } };

function parseNumber(s: string): number | null {
  const t = s.trim();
  if (!/^\d+(\.\d+)?$/.test(t)) return null;
  return Number(t);
}

export function validateNetForm(f: NetForm): NetFormResult {
  const errors: { drop?: string; latency?: string } = {};
  const drop = parseNumber(f.drop);
  if (drop === null || drop > 100) errors.drop = 'Drop rate is a number from 0 to 100 (%).';
  const latency = parseNumber(f.latency);
  if (latency === null || !Number.isInteger(latency) || latency > MAX_LATENCY_MS)
    errors.latency = `Latency is a whole number of milliseconds from 0 to ${MAX_LATENCY_MS}.`;
  if (errors.drop || errors.latency) return { ok: false, errors };
  return { ok: true, mode: { mode: 'flaky', drop: Math.round(drop! * 100) / 10_000, latency_ms: latency! } };
}

/** The form's fields for the mode in force (or defaults). */
export function formFromMode(m: NetMode | null): NetForm {
  if (m && m.mode === 'flaky') return { drop: String(Math.round(m.drop * 1000) / 10), latency: String(m.latency_ms) };
  return { drop: '20', latency: '500' };
}

export function describeNetMode(m: NetMode): string {
  switch (m.mode) {
    case 'online':
      return 'Normal network';
    case 'offline':
      return 'Working offline';
    case 'flaky':
      return `Bad network: ${Math.round(m.drop * 1000) / 10} % dropped, +${m.latency_ms} ms`;
  }
}
