// The testers' bad-network form: drop rate in percent (0-100) and added
// latency in ms (0-60000), checked before `set_network` is called; and the
// device-situation switches (metered network, power) over the OS's report.
import type { DeviceOverrides, DevicePower, NetMode } from '../api/types';

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

/** The metered-network switch: the OS's report, or forced on or off. */
export type MeteredChoice = 'os' | 'on' | 'off';

export const METERED_CHOICES: { value: MeteredChoice; label: string }[] = [
  { value: 'os', label: 'OS' },
  { value: 'on', label: 'On' },
  { value: 'off', label: 'Off' },
];

/** The power select; '' is the OS's report (a select's values are strings). */
export const POWER_CHOICES: { value: DevicePower | ''; label: string }[] = [
  { value: '', label: 'OS' },
  { value: 'charging', label: 'Charging' },
  { value: 'battery', label: 'On battery' },
  { value: 'low', label: 'Low battery' },
  { value: 'saver', label: 'Power saver' },
];

/**
 * Where the metered switch stands; null when the file says "no network",
 * which only a hand-written device file does (none of the three then).
 */
export function meteredChoice(o: DeviceOverrides): MeteredChoice | null {
  switch (o.network ?? null) {
    case null:
      return 'os';
    case 'metered':
      return 'on';
    case 'unmetered':
      return 'off';
    default:
      return null;
  }
}

/**
 * The overrides with one field set, or dropped for null ("as the OS
 * says"): the others are kept, as `outpost net metered|power|app` keeps them.
 */
export function withOverride<K extends keyof DeviceOverrides>(
  o: DeviceOverrides,
  key: K,
  value: DeviceOverrides[K] | null,
): DeviceOverrides {
  const next = { ...o };
  if (value === null || value === undefined) delete next[key];
  else next[key] = value;
  return next;
}

export function withMetered(o: DeviceOverrides, c: MeteredChoice): DeviceOverrides {
  return withOverride(o, 'network', c === 'os' ? null : c === 'on' ? 'metered' : 'unmetered');
}

export function withPower(o: DeviceOverrides, v: string): DeviceOverrides {
  const known = POWER_CHOICES.find((p) => p.value === v && p.value !== '');
  return withOverride(o, 'power', known ? (known.value as DevicePower) : null);
}

/**
 * What is set in the device file that the panel has no control for (the
 * app's state, "no network"), in words; null when there is none. Writing
 * from the panel keeps them.
 */
export function otherOverrides(o: DeviceOverrides): string | null {
  const parts: string[] = [];
  if (o.network === 'none') parts.push('no network');
  if (o.app) parts.push(`app ${o.app}`);
  return parts.length ? `Also set elsewhere: ${parts.join(', ')}.` : null;
}
