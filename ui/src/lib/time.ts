const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * "just now", "2 min ago", "3 h ago", "yesterday", "4 days ago", then a date
 * ("12 Mar", or "12 Mar 2023" in another year). Times in the future (a
 * clock that runs ahead) read as "just now".
 */
export function relativeTime(ms: number, now: number): string {
  const d = now - ms;
  if (d < 45_000) return 'just now';
  if (d < HOUR) return `${Math.max(1, Math.round(d / MIN))} min ago`;
  if (d < DAY) return `${Math.floor(d / HOUR)} h ago`;
  if (d < 2 * DAY) return 'yesterday';
  if (d < 7 * DAY) return `${Math.floor(d / DAY)} days ago`;
  const t = new Date(ms);
  const n = new Date(now);
  const base = `${t.getDate()} ${MONTHS[t.getMonth()]}`;
  return t.getFullYear() === n.getFullYear() ? base : `${base} ${t.getFullYear()}`;
}

/** "in 12 s", "in 3 min": when the next retry is due. */
export function untilTime(ms: number, now: number): string {
  const d = Math.max(0, ms - now);
  if (d < 1500) return 'now';
  if (d < MIN) return `in ${Math.round(d / 1000)} s`;
  return `in ${Math.round(d / MIN)} min`;
}

/** A full local date and time for tooltips. */
export function fullTime(ms: number): string {
  return new Date(ms).toLocaleString();
}
