import { describe, expect, it } from 'vitest';
import { relativeTime, untilTime } from './time';

const MIN = 60_000;
const now = new Date(2025, 5, 15, 12, 0, 0).getTime();

describe('relativeTime', () => {
  it.each([
    [0, 'just now'],
    [30_000, 'just now'],
    [50_000, '1 min ago'],
    [2 * MIN, '2 min ago'],
    [59 * MIN, '59 min ago'],
    [60 * MIN, '1 h ago'],
    [23 * 60 * MIN, '23 h ago'],
    [25 * 60 * MIN, 'yesterday'],
    [3 * 24 * 60 * MIN, '3 days ago'],
  ])('%i ms ago reads %s', (ago, text) => {
    expect(relativeTime(now - ago, now)).toBe(text);
  });

  it('shows a date after a week, with the year only when it differs', () => {
    expect(relativeTime(new Date(2025, 2, 12).getTime(), now)).toBe('12 Mar');
    expect(relativeTime(new Date(2023, 10, 2).getTime(), now)).toBe('2 Nov 2023');
  });

  it('treats a clock that runs ahead as just now', () => {
    expect(relativeTime(now + 10 * MIN, now)).toBe('just now');
  });
});

describe('untilTime', () => {
  it('counts down to a retry', () => {
    expect(untilTime(now + 500, now)).toBe('now');
    expect(untilTime(now + 12_000, now)).toBe('in 12 s');
    expect(untilTime(now + 3 * MIN, now)).toBe('in 3 min');
    expect(untilTime(now - 5000, now)).toBe('now');
  });
});
