import { describe, expect, it } from 'vitest';
import type { Insights, OutboxRow, PassRecord } from '../api/types';
import { bytesDays, discardWarning, entryState, formatAge, formatBytes, formatDuration, insightsView, passSummary, shortId, TIME } from './monitor';

const NOW = Date.UTC(2026, 11, 5, 12);

function insights(over: Partial<Insights> = {}): Insights {
  return {
    passes: 0,
    ok: 0,
    failed: 0,
    deferred: 0,
    success_rate: null,
    median_ms: null,
    p95_ms: null,
    bytes_per_day: Array.from({ length: 7 }, (_, k) => ({ day_start_ms: NOW - (6 - k) * TIME.DAY, sent: 0, received: 0 })),
    oldest_unsent: null,
    stale_after_ms: TIME.HOUR,
    stale: false,
    failed_entries: [],
    ...over,
  };
}

const entry = (over: Partial<OutboxRow> = {}): OutboxRow => ({
  seq: 7,
  note_id: '0190a1b2-c3d4-7e5f-8a9b-000000001002',
  op_id: '0190a1b2-0000-7000-8000-000000000001',
  state: 'failed',
  deleted: false,
  attempts: 3,
  next_attempt_at: NOW,
  last_error: 'invalid_change',
  created_at: NOW - 2 * TIME.HOUR,
  updated_at: NOW - TIME.HOUR,
  ...over,
});

describe('numbers read well', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [12_345, '12.3 kB'],
    [148_400, '148 kB'],
    [1_204_800, '1.2 MB'],
  ])('bytes %d → %s', (n, s) => expect(formatBytes(n)).toBe(s));

  it.each([
    [340, '340 ms'],
    [1_240, '1.2 s'],
    [150_000, '2.5 min'],
  ])('duration %d → %s', (n, s) => expect(formatDuration(n)).toBe(s));

  it.each([
    [12_000, '12 s'],
    [30 * TIME.MIN, '30 min'],
    [3 * TIME.HOUR, '3 h'],
    [3 * TIME.DAY, '3 d'],
    [-5, '0 s'],
  ])('age %d → %s (describe_age)', (n, s) => expect(formatAge(n)).toBe(s));
});

describe('insightsView', () => {
  it('says nothing was attempted on an empty history', () => {
    const v = insightsView(insights(), NOW);
    expect(v.successRate).toBeNull();
    expect(v.successDetail).toBe('No pass attempted yet');
    expect(v.median).toBeNull();
    expect(v.unsent).toBe('Every change is on the server.');
    expect(v.staleWarning).toBeNull();
  });

  it('gives the rate over attempts, durations, and bytes per day over the week', () => {
    const days = insights().bytes_per_day.map((d, k) => ({ ...d, sent: k === 6 ? 7000 : 0, received: k === 6 ? 7000 : 0 }));
    const v = insightsView(insights({ passes: 26, ok: 23, failed: 2, deferred: 1, success_rate: 23 / 25, median_ms: 340, p95_ms: 1240, bytes_per_day: days }), NOW);
    expect(v.successRate).toBe('92%');
    expect(v.successDetail).toBe('23 of 25 passes, 1 deferred');
    expect(v.median).toBe('340 ms');
    expect(v.p95).toBe('1.2 s');
    expect(v.weekTotal).toBe('14.0 kB');
    expect(v.perDay).toBe('2.0 kB');
    expect(v.days.at(-1)!.share).toBe(1);
    expect(v.days[0]!.share).toBe(0);
  });

  it('warns only when the core says the oldest change is stale', () => {
    const oldest = { seq: 7, note_id: entry().note_id, state: 'pending' as const, created_at: NOW - 3 * TIME.HOUR };
    const fresh = insightsView(insights({ oldest_unsent: oldest, stale: false }), NOW);
    expect(fresh.unsent).toBe('The oldest change not yet on the server was made 3 h ago.');
    expect(fresh.staleWarning).toBeNull();
    const stale = insightsView(insights({ oldest_unsent: oldest, stale: true }), NOW);
    expect(stale.staleWarning).toBe('A change has waited 3 h for the server, longer than 60 min. Check the connection and the sync status.');
    const refused = insightsView(insights({ oldest_unsent: { ...oldest, state: 'failed' }, stale: true }), NOW);
    expect(refused.staleWarning).toContain('The server refused it: retry or discard it below.');
  });
});

describe('passes and entries in words', () => {
  const pass = (over: Partial<PassRecord>): PassRecord => ({
    started_at: NOW,
    duration_ms: 100,
    trigger: 'timer',
    pushed: 0,
    pulled: 0,
    bytes_sent: 0,
    bytes_received: 0,
    outcome: 'ok',
    error_code: null,
    reason: null,
    ...over,
  });
  it('names what a pass did', () => {
    expect(passSummary(pass({}))).toBe('Nothing to do');
    expect(passSummary(pass({ pushed: 2, pulled: 5 }))).toBe('↑ 2 ↓ 5');
    expect(passSummary(pass({ outcome: 'failed', error_code: 'unreachable' }))).toBe('unreachable');
    expect(passSummary(pass({ outcome: 'deferred', reason: 'switched offline' }))).toBe('switched offline');
  });

  it('says where an entry stands', () => {
    expect(entryState(entry(), NOW)).toBe('Refused by the server');
    expect(entryState(entry({ state: 'pending', attempts: 0 }), NOW)).toBe('Waiting to be sent');
    expect(entryState(entry({ state: 'pending', attempts: 2, next_attempt_at: NOW + 5 * TIME.MIN }), NOW)).toBe('Retrying in 5 min');
  });

  it('tells UUIDv7 notes made together apart by their random end', () => {
    expect(shortId('01a24686-ec2e-725d-8aa4-84621c44a0f7')).toBe('1c44a0f7');
  });

  it('a discard warning says the change is lost for sync and what is kept', () => {
    const w = discardWarning(entry());
    expect(w).toContain('will not reach the server');
    expect(w).toContain('lost');
    expect(w).toContain('keeps its text on this device');
    expect(discardWarning(entry({ deleted: true }))).toMatch(/^This deletion/);
  });

  it('scales the week to its busiest day', () => {
    const d = bytesDays([
      { day_start_ms: Date.UTC(2026, 11, 4), sent: 50, received: 50 },
      { day_start_ms: Date.UTC(2026, 11, 5), sent: 100, received: 100 },
    ]);
    expect(d.map((x) => [x.label, x.share])).toEqual([
      ['Fri', 0.5],
      ['Sat', 1],
    ]);
  });
});
