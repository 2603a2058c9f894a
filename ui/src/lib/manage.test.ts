import { describe, expect, it } from 'vitest';
import type { AccountSession } from '../api/types';
import {
  deleteError,
  passphraseChangeError,
  sessionError,
  sessionLine,
  sessionName,
  sortSessions,
  TOO_SHORT,
  validateDelete,
  validatePassphraseChange,
} from './manage';

const MIN = 60_000;
const DAY = 86_400_000;

describe('the passphrase change form', () => {
  it('asks for every field, refuses short or unchanged passphrases, and a repeat that differs', () => {
    expect(validatePassphraseChange({ current: '', next: '', repeat: '' })).toEqual({
      current: 'Enter your current passphrase.',
      next: 'Enter a new passphrase.',
    });
    expect(validatePassphraseChange({ current: 'old one here', next: 'short', repeat: 'short' })).toEqual({ next: TOO_SHORT });
    expect(validatePassphraseChange({ current: 'same words', next: 'same words', repeat: 'same words' }).next).toMatch(/is the current one/);
    expect(validatePassphraseChange({ current: 'old one here', next: 'a new long one', repeat: 'a new long 1' })).toEqual({
      repeat: 'The two new passphrases differ.',
    });
    expect(validatePassphraseChange({ current: 'old one here', next: 'a new long one', repeat: 'a new long one' })).toEqual({});
  });

  it("maps the core's codes to the field they concern", () => {
    expect(passphraseChangeError('wrong_current_passphrase', 'x')).toEqual({ field: 'current', message: expect.stringMatching(/not the account’s current passphrase/) });
    expect(passphraseChangeError('weak_passphrase', 'x')).toEqual({ field: 'next', message: TOO_SHORT });
    const race = passphraseChangeError('key_changed', 'x');
    expect(race.field).toBeNull();
    expect(race.message).toMatch(/changed on another device/);
    expect(passphraseChangeError('offline', 'x')).toEqual({ field: null, message: expect.stringMatching(/switched off/) });
    // A code the UI does not know shows the core's own message.
    expect(passphraseChangeError('disk_full', 'The disk is full.')).toEqual({ field: null, message: 'The disk is full.' });
  });
});

describe('the delete form', () => {
  it('needs the exact username and a passphrase', () => {
    expect(validateDelete({ username: 'Ada', passphrase: '' }, 'ada')).toEqual({ username: 'Type ada to confirm.', passphrase: 'Enter your passphrase.' });
    expect(validateDelete({ username: ' ada ', passphrase: 'p' }, 'ada')).toEqual({});
  });

  it("maps the core's codes", () => {
    expect(deleteError('wrong_passphrase', 'x')).toEqual({ field: 'passphrase', message: 'Wrong passphrase. Nothing was deleted.' });
    expect(deleteError('username_mismatch', 'type ada')).toEqual({ field: 'username', message: 'type ada' });
    expect(deleteError('unreachable', 'x').message).toMatch(/cannot be reached/);
  });
});

describe('sessions', () => {
  const now = 1_700_000_000_000;
  const s = (id: string, current: boolean, seen: number, name: string | null = id): AccountSession => ({
    id,
    device_name: name,
    created_at_ms: now - 3 * DAY,
    last_seen_at_ms: now - seen,
    current,
  });

  it('lists this device first, then the most recently seen', () => {
    const sorted = sortSessions([s('old', false, 5 * DAY), s('me', true, 9 * DAY), s('recent', false, 2 * MIN)]);
    expect(sorted.map((x) => x.id)).toEqual(['me', 'recent', 'old']);
  });

  it('names unnamed devices and says when each was signed in and seen', () => {
    expect(sessionName(s('x', false, 0, null))).toBe('Unnamed device');
    expect(sessionName(s('x', false, 0, '  '))).toBe('Unnamed device');
    expect(sessionLine(s('x', false, 2 * MIN), now)).toBe('Signed in 3 days ago · active 2 min ago');
    expect(sessionLine(s('me', true, 5 * DAY), now)).toBe('Signed in 3 days ago · active now');
  });

  it('explains a session that ended elsewhere', () => {
    expect(sessionError('unauthorized', 'x')).toMatch(/Log in again/);
    expect(sessionError('session_not_found', 'x')).toMatch(/signed out already/);
  });
});
