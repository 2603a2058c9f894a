import { describe, expect, it } from 'vitest';
import { cachedTheme, cacheTheme, isTheme, resolveTheme } from './theme';

describe('theme', () => {
  it('follows the system only when set to system', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
  });

  it('caches the setting for the first paint', () => {
    const m = new Map<string, string>();
    const storage = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
    expect(cachedTheme(storage)).toBe('system');
    cacheTheme(storage, 'dark');
    expect(cachedTheme(storage)).toBe('dark');
    m.set('outpost.theme', 'neon');
    expect(cachedTheme(storage)).toBe('system');
    expect(cachedTheme(undefined)).toBe('system');
    const broken = {
      getItem: () => {
        throw new Error('denied');
      },
    };
    expect(cachedTheme(broken)).toBe('system');
  });

  it('knows its values', () => {
    expect(isTheme('light')).toBe(true);
    expect(isTheme('blue')).toBe(false);
  });
});
