import { describe, expect, it, vi } from 'vitest';
import { dispatchShortcut, isMacPlatform, type KeyLike, matchShortcut, shortcutList } from './shortcuts';

const key = (k: string, mods: Partial<KeyLike> = {}): KeyLike => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  ...mods,
});
const pc = { isMac: false, inEditor: false };
const mac = { isMac: true, inEditor: false };

describe('matchShortcut', () => {
  it.each([
    ['n', 'new_note'],
    ['N', 'new_note'],
    ['k', 'focus_search'],
    ['f', 'focus_search'],
    ['s', 'sync_now'],
    ['e', 'toggle_preview'],
    ['/', 'help'],
  ])('Ctrl+%s is %s on Linux and Windows', (k, action) => {
    expect(matchShortcut(key(k, { ctrlKey: true }), pc)).toBe(action);
  });

  it('uses Cmd on macOS, and leaves Ctrl alone there', () => {
    expect(matchShortcut(key('n', { metaKey: true }), mac)).toBe('new_note');
    expect(matchShortcut(key('n', { ctrlKey: true }), mac)).toBeNull();
    expect(matchShortcut(key('n', { metaKey: true }), pc)).toBeNull();
  });

  it('Ctrl+F inside the editor is find-in-note (CodeMirror), Ctrl+Shift+F still searches notes', () => {
    expect(matchShortcut(key('f', { ctrlKey: true }), { isMac: false, inEditor: true })).toBeNull();
    expect(matchShortcut(key('F', { ctrlKey: true, shiftKey: true }), { isMac: false, inEditor: true })).toBe('focus_search');
    expect(matchShortcut(key('k', { ctrlKey: true }), { isMac: false, inEditor: true })).toBe('focus_search');
  });

  it('Escape closes; plain letters and Alt combinations are not shortcuts', () => {
    expect(matchShortcut(key('Escape'), pc)).toBe('close');
    expect(matchShortcut(key('F1'), pc)).toBe('help');
    expect(matchShortcut(key('n'), pc)).toBeNull();
    expect(matchShortcut(key('n', { ctrlKey: true, altKey: true }), pc)).toBeNull();
    expect(matchShortcut(key('z', { ctrlKey: true }), pc)).toBeNull();
  });
});

describe('dispatchShortcut', () => {
  it('runs the handler and reports it handled', () => {
    const sync = vi.fn();
    expect(dispatchShortcut(key('s', { ctrlKey: true }), pc, { sync_now: sync })).toBe(true);
    expect(sync).toHaveBeenCalledOnce();
  });

  it('a handler returning false passes the key on (Escape with nothing open)', () => {
    expect(dispatchShortcut(key('Escape'), pc, { close: () => false })).toBe(false);
    expect(dispatchShortcut(key('Escape'), pc, { close: () => true })).toBe(true);
  });

  it('unhandled actions are not swallowed', () => {
    expect(dispatchShortcut(key('n', { ctrlKey: true }), pc, {})).toBe(false);
    expect(dispatchShortcut(key('x', { ctrlKey: true }), pc, { new_note: vi.fn() })).toBe(false);
  });
});

describe('platform', () => {
  it('detects macOS', () => {
    expect(isMacPlatform('MacIntel')).toBe(true);
    expect(isMacPlatform('Linux x86_64')).toBe(false);
  });
  it('lists shortcuts with the right modifier', () => {
    expect(shortcutList(false)[0]!.keys).toBe('Ctrl+N');
    expect(shortcutList(true)[0]!.keys).toBe('⌘N');
  });
});
