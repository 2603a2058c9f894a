import { describe, expect, it } from 'vitest';
import { fieldForError, normaliseServerUrl, validateAccountForm, validateUnlock } from './account';

const good = { serverUrl: 'https://sync.example.org/', username: ' ada ', passphrase: 'correct horse', confirm: 'correct horse' };

describe('account form', () => {
  it('accepts a good form and tidies it', () => {
    expect(validateAccountForm('register', good)).toEqual({
      ok: true,
      creds: { serverUrl: 'https://sync.example.org', username: 'ada', passphrase: 'correct horse' },
    });
    expect(validateAccountForm('login', { ...good, confirm: '' }).ok).toBe(true);
    expect(validateAccountForm('login', { ...good, serverUrl: 'http://127.0.0.1:8080' }).ok).toBe(true);
  });

  it('refuses a server URL that is not http(s)', () => {
    for (const serverUrl of ['', 'sync.example.org', 'ftp://x.org', 'javascript:alert(1)']) {
      const r = validateAccountForm('login', { ...good, serverUrl });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors.serverUrl).toBeTruthy();
    }
  });

  it('asks for a long enough passphrase typed twice when registering', () => {
    const short = validateAccountForm('register', { ...good, passphrase: 'short', confirm: 'short' });
    expect(short.ok).toBe(false);
    const differ = validateAccountForm('register', { ...good, confirm: 'other' });
    expect(differ.ok).toBe(false);
    if (!differ.ok) expect(Object.keys(differ.errors)).toEqual(['confirm']);
    // Logging in takes whatever the account has.
    expect(validateAccountForm('login', { ...good, passphrase: 'short', confirm: '' }).ok).toBe(true);
  });

  it('needs a username', () => {
    const r = validateAccountForm('login', { ...good, username: '  ' });
    expect(r.ok).toBe(false);
  });

  it('puts core errors next to the right field', () => {
    expect(fieldForError('wrong_passphrase')).toBe('passphrase');
    expect(fieldForError('unreachable')).toBe('serverUrl');
    expect(fieldForError('network')).toBe('serverUrl');
    expect(fieldForError('internal')).toBeNull();
  });

  it('normalises trailing slashes', () => {
    expect(normaliseServerUrl(' https://a.org/// ')).toBe('https://a.org');
  });
});

describe('lock screen', () => {
  it('needs a passphrase; a new one is long enough and typed twice', () => {
    expect(validateUnlock(false, '', '')).toMatch(/Enter/);
    expect(validateUnlock(false, 'x', '')).toBeNull();
    expect(validateUnlock(true, 'short', 'short')).toMatch(/at least/);
    expect(validateUnlock(true, 'long enough words', 'long enough word')).toMatch(/differ/);
    expect(validateUnlock(true, 'long enough words', 'long enough words')).toBeNull();
  });
});
