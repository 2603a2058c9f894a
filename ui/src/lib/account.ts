// The account form: checked here so people see a clear message before any
// request (the core checks again).
import type { Credentials } from '../api/types';

export type AccountMode = 'login' | 'register';

export interface AccountForm {
  serverUrl: string;
  username: string;
  passphrase: string;
  confirm: string;
}

export type AccountErrors = Partial<Record<keyof AccountForm, string>>;

export const MIN_PASSPHRASE = 8;

export function normaliseServerUrl(s: string): string {
  return s.trim().replace(/\/+$/, '');
}

export function validateAccountForm(mode: AccountMode, f: AccountForm): { ok: true; creds: Credentials } | { ok: false; errors: AccountErrors } {
  const errors: AccountErrors = {};
  const url = normaliseServerUrl(f.serverUrl);
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    parsed = null;
  }
  if (!url) errors.serverUrl = 'Enter the address of your sync server.';
  else if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.host)
    errors.serverUrl = 'The server address starts with https:// (or http:// on your own machine).';
  const username = f.username.trim();
  if (!username) errors.username = 'Enter a username.';
  else if (username.length > 64) errors.username = 'Usernames are at most 64 characters.';
  if (!f.passphrase) errors.passphrase = 'Enter your passphrase.';
  else if (mode === 'register' && f.passphrase.length < MIN_PASSPHRASE)
    errors.passphrase = `Use at least ${MIN_PASSPHRASE} characters; a few unrelated words are best.`;
  if (mode === 'register' && f.passphrase && f.confirm !== f.passphrase) errors.confirm = 'The two passphrases differ.';
  if (Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, creds: { serverUrl: url, username, passphrase: f.passphrase } };
}

/** Which field an error code from the core belongs to. */
export function fieldForError(code: string): keyof AccountForm | null {
  switch (code) {
    case 'wrong_passphrase':
    case 'unauthorized':
      return 'passphrase';
    case 'unreachable':
    case 'network':
    case 'bad_url':
    case 'offline':
      return 'serverUrl';
    case 'username_taken':
    case 'user_exists':
    case 'unknown_user':
      return 'username';
    default:
      return null;
  }
}

/** The lock screen: an existing passphrase, or a new one typed twice. */
export function validateUnlock(isNew: boolean, passphrase: string, confirm: string): string | null {
  if (!passphrase) return 'Enter the passphrase.';
  if (isNew && passphrase.length < MIN_PASSPHRASE) return `Use at least ${MIN_PASSPHRASE} characters; a few unrelated words are best.`;
  if (isNew && confirm !== passphrase) return 'The two passphrases differ.';
  return null;
}
