// Settings > Account for a signed-in device: the passphrase change and
// account deletion forms (checked here so people see a clear message before
// any request; the core checks again), what the core's error codes mean to
// people, and how the session list reads.
import type { AccountSession } from '../api/types';
import { MIN_PASSPHRASE } from './account';
import { relativeTime } from './time';

export interface PassphraseForm {
  current: string;
  next: string;
  repeat: string;
}

export type PassphraseErrors = Partial<Record<keyof PassphraseForm, string>>;

export const TOO_SHORT = `Use at least ${MIN_PASSPHRASE} characters; a few unrelated words are best.`;

export function validatePassphraseChange(f: PassphraseForm): PassphraseErrors {
  const errors: PassphraseErrors = {};
  if (!f.current) errors.current = 'Enter your current passphrase.';
  if (!f.next) errors.next = 'Enter a new passphrase.';
  else if (f.next.length < MIN_PASSPHRASE) errors.next = TOO_SHORT;
  else if (f.next === f.current) errors.next = 'The new passphrase is the current one.';
  if (f.next && !errors.next && f.repeat !== f.next) errors.repeat = 'The two new passphrases differ.';
  return errors;
}

/** Where an error from `changePassphrase` shows: under a field, or above the buttons. */
export function passphraseChangeError(code: string, message: string): { field: keyof PassphraseForm | null; message: string } {
  switch (code) {
    case 'wrong_current_passphrase':
    case 'wrong_passphrase':
      return { field: 'current', message: 'That is not the account’s current passphrase. Nothing was changed.' };
    case 'weak_passphrase':
      return { field: 'next', message: TOO_SHORT };
    case 'key_changed':
      return {
        field: null,
        message:
          'The passphrase was changed on another device a moment ago, so this change was not made. Log out and in again with the new passphrase to change it from here.',
      };
    default:
      return { field: null, message: sessionError(code, message) };
  }
}

export interface DeleteForm {
  username: string;
  passphrase: string;
}

export type DeleteErrors = Partial<Record<keyof DeleteForm, string>>;

export function validateDelete(f: DeleteForm, username: string): DeleteErrors {
  const errors: DeleteErrors = {};
  if (f.username.trim() !== username) errors.username = `Type ${username} to confirm.`;
  if (!f.passphrase) errors.passphrase = 'Enter your passphrase.';
  return errors;
}

export function deleteError(code: string, message: string): { field: keyof DeleteForm | null; message: string } {
  switch (code) {
    case 'wrong_passphrase':
    case 'wrong_current_passphrase':
      return { field: 'passphrase', message: 'Wrong passphrase. Nothing was deleted.' };
    case 'username_mismatch':
      return { field: 'username', message };
    default:
      return { field: null, message: sessionError(code, message) };
  }
}

/** Errors every account call can meet (the network, a session ended elsewhere). */
export function sessionError(code: string, message: string): string {
  switch (code) {
    case 'offline':
      return 'The network is switched off for Outpost. Switch it on to manage the account.';
    case 'unreachable':
    case 'network':
      return 'The sync server cannot be reached. Try again when you are online.';
    case 'unauthorized':
    case 'invalid_token':
      return 'This device’s session has ended (signed out from another device). Log in again.';
    case 'account_deleted':
      return 'This account was deleted from another device.';
    case 'session_not_found':
      return 'That device was signed out already.';
    case 'rate_limited':
      return 'Too many attempts. Wait a minute and try again.';
    default:
      return message;
  }
}

/** This device first, then the others by most recently seen. */
export function sortSessions(list: AccountSession[]): AccountSession[] {
  return [...list].sort((a, b) => Number(b.current) - Number(a.current) || b.last_seen_at_ms - a.last_seen_at_ms);
}

export function sessionName(s: AccountSession): string {
  return s.device_name?.trim() || 'Unnamed device';
}

/** "Signed in 3 days ago · active 2 min ago". */
export function sessionLine(s: AccountSession, now: number): string {
  const seen = s.current ? 'active now' : `active ${relativeTime(s.last_seen_at_ms, now)}`;
  return `Signed in ${relativeTime(s.created_at_ms, now)} · ${seen}`;
}
