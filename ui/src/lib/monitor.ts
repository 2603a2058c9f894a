// The Sync panel's words and numbers, from the core's sync history and
// outbox (`outpost_core::monitor`), as `outpost status --history` and
// `outpost outbox list` say them: plain functions, tested without a DOM.
import type { DayBytes, Insights, OutboxRow, PassOutcome, PassRecord, PassTrigger } from '../api/types';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export const TRIGGER_LABELS: Record<PassTrigger, string> = {
  local_change: 'Local change',
  poke: 'Server changes',
  timer: 'Timer',
  network_back: 'Network back',
  sync_now: 'Sync now',
  retry: 'Retry',
  start: 'App start',
};

export const OUTCOME_LABELS: Record<PassOutcome, string> = {
  ok: 'OK',
  failed: 'Failed',
  deferred: 'Deferred',
};

/** Bytes in powers of ten, as the CLI counts them: "812 B", "12.3 kB", "148 kB", "4.5 MB". */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 100_000) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1_000_000) return `${Math.round(n / 1e3)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** "340 ms", "1.2 s", "2.5 min". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < MIN) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / MIN).toFixed(1)} min`;
}

/** How long something has waited: "45 s", "12 min", "3 h", "2 d" (the CLI's `describe_age`). */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.floor((s + 30) / 60)} min`;
  if (s < 172_800) return `${Math.floor((s + 1800) / 3600)} h`;
  return `${Math.floor((s + 43_200) / 86_400)} d`;
}

/** "92%" of the passes that were attempted; null without any attempt. */
export function formatRate(rate: number | null): string | null {
  return rate === null ? null : `${Math.round(rate * 100)}%`;
}

/** What a pass did, in one short phrase. */
export function passSummary(p: PassRecord): string {
  switch (p.outcome) {
    case 'ok':
      return p.pushed === 0 && p.pulled === 0 ? 'Nothing to do' : `↑ ${p.pushed} ↓ ${p.pulled}`;
    case 'failed':
      return p.error_code ?? 'unknown error';
    case 'deferred':
      return p.reason ?? 'deferred';
  }
}

export interface BytesDay extends DayBytes {
  /** Short weekday ("Mon"), of the UTC day the core counted. */
  label: string;
  total: number;
  /** The day's share of the busiest day, 0..1, for a bar. */
  share: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

export function bytesDays(days: readonly DayBytes[]): BytesDay[] {
  const max = Math.max(1, ...days.map((d) => d.sent + d.received));
  return days.map((d) => {
    const total = d.sent + d.received;
    return { ...d, label: WEEKDAYS[new Date(d.day_start_ms).getUTCDay()]!, total, share: total / max };
  });
}

export interface InsightsView {
  /** "92%", or null without any attempted pass. */
  successRate: string | null;
  /** "23 of 25 passes" (deferred ones are not attempts). */
  successDetail: string;
  median: string | null;
  p95: string | null;
  /** Bytes per day over the week, on average. */
  perDay: string;
  weekTotal: string;
  days: BytesDay[];
  /** "Oldest unsent change: 3 h" or "Every change is on the server". */
  unsent: string;
  /** Set when the oldest change waited longer than the threshold. */
  staleWarning: string | null;
}

export function insightsView(i: Insights, now: number): InsightsView {
  const attempts = i.ok + i.failed;
  const week = i.bytes_per_day.reduce((s, d) => s + d.sent + d.received, 0);
  const oldest = i.oldest_unsent;
  const age = oldest ? formatAge(now - oldest.created_at) : null;
  return {
    successRate: formatRate(i.success_rate),
    successDetail:
      attempts === 0
        ? 'No pass attempted yet'
        : `${i.ok} of ${attempts} ${attempts === 1 ? 'pass' : 'passes'}${i.deferred > 0 ? `, ${i.deferred} deferred` : ''}`,
    median: i.median_ms === null ? null : formatDuration(i.median_ms),
    p95: i.p95_ms === null ? null : formatDuration(i.p95_ms),
    perDay: formatBytes(Math.floor(week / Math.max(1, i.bytes_per_day.length))),
    weekTotal: formatBytes(week),
    days: bytesDays(i.bytes_per_day),
    unsent: oldest ? `The oldest change not yet on the server was made ${age} ago.` : 'Every change is on the server.',
    staleWarning:
      oldest && i.stale
        ? `A change has waited ${age} for the server, longer than ${formatAge(i.stale_after_ms)}. ${
            oldest.state === 'failed'
              ? 'The server refused it: retry or discard it below.'
              : 'Check the connection and the sync status.'
          }`
        : null,
  };
}

/**
 * The last 8 characters of a note id, enough to tell entries apart (ids are
 * UUIDv7: their first characters are a timestamp, the same for notes made
 * together).
 */
export const shortId = (id: string) => id.slice(-8);

/** How an entry stands, in words. */
export function entryState(e: OutboxRow, now: number): string {
  if (e.state === 'failed') return 'Refused by the server';
  if (e.attempts === 0) return 'Waiting to be sent';
  return e.next_attempt_at > now ? `Retrying in ${formatAge(e.next_attempt_at - now)}` : 'Due now';
}

export const attemptsText = (n: number) => `${n} ${n === 1 ? 'attempt' : 'attempts'}`;

/** The confirmation a discard needs: what is lost, and what is kept. */
export function discardWarning(e: OutboxRow): string {
  const what = e.deleted ? 'This deletion' : 'This change';
  return `${what} will not reach the server or your other devices: it is lost for sync. The note keeps its text on this device, and the change is kept, sealed, among the discarded entries. Editing the note again sends a new change.`;
}

/** Exported for tests. */
export const TIME = { MIN, HOUR, DAY };
