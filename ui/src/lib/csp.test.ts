import { describe, expect, it } from 'vitest';
import html from '../../index.html?raw';
import { NONCE_CARRIER_ID, NONCE_TOKEN, readStyleNonce } from './csp';

const root = (el: { nonce?: string; attr?: string | null } | null) => ({
  getElementById: (id: string) =>
    id === NONCE_CARRIER_ID && el ? { nonce: el.nonce, getAttribute: () => el.attr ?? null } : null,
});

describe('readStyleNonce', () => {
  it('reads the nonce Tauri put in, from the property or the attribute', () => {
    expect(readStyleNonce(root({ nonce: 'abc' }))).toBe('abc');
    expect(readStyleNonce(root({ nonce: '', attr: 'def' }))).toBe('def');
  });
  it('no nonce under vite dev (token not replaced) or without the carrier', () => {
    expect(readStyleNonce(root({ nonce: NONCE_TOKEN }))).toBe('');
    expect(readStyleNonce(root(null))).toBe('');
    expect(readStyleNonce(undefined)).toBe('');
  });
  it('index.html carries the token and id this code looks for', () => {
    expect(html).toContain(`id="${NONCE_CARRIER_ID}"`);
    expect(html).toContain(`nonce="${NONCE_TOKEN}"`);
  });
});
