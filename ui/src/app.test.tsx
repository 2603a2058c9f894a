// @vitest-environment jsdom
// The whole app over the dev harness's in-memory core: start-up, the list,
// the status bar, a new note autosaved, offline with pending, and a
// conflict settled. CodeMirror runs in jsdom well enough for this.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { render } from 'solid-js/web';
import { createFakeApi } from '../dev/fake';
import { App } from './App';

beforeAll(() => {
  // jsdom lacks these; the app only needs them to exist.
  window.matchMedia ??= ((q: string) =>
    ({ matches: false, media: q, addEventListener() {}, removeEventListener() {} }) as unknown as MediaQueryList) as typeof window.matchMedia;
  globalThis.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  } as unknown as typeof ResizeObserver;
  document.createRange = (() => {
    const r = new Range();
    r.getBoundingClientRect = () => ({ x: 0, y: 0, width: 0, height: 0, top: 0, left: 0, right: 0, bottom: 0, toJSON() {} }) as DOMRect;
    r.getClientRects = () => ({ length: 0, item: () => null, [Symbol.iterator]: [][Symbol.iterator] }) as unknown as DOMRectList;
    return r;
  }) as typeof document.createRange;
});

let dispose: (() => void) | null = null;
afterEach(() => {
  dispose?.();
  dispose = null;
  document.body.innerHTML = '';
  localStorage.clear();
});

const $ = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
const $$ = (id: string) => [...document.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`)];
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
async function until<T>(f: () => T | null | undefined | false | Promise<T | false>, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${f.toString()}`);
    await tick(10);
  }
}

function start(scenario: Parameters<typeof createFakeApi>[0]['scenario'], count: number) {
  const fake = createFakeApi({ scenario, count, theme: 'light' });
  const root = document.createElement('div');
  document.body.appendChild(root);
  dispose = render(() => <App api={fake.api} />, root);
  return fake;
}

describe('the app over a fake core', () => {
  it('first run with no notes: empty states and local only', async () => {
    start('empty', 0);
    await until(() => $('list-empty'));
    expect($('list-empty')!.textContent).toContain('No notes yet');
    expect($('main-empty')!.textContent).toContain('No notes yet');
    await until(() => $('status-connectivity'));
    expect($('status-connectivity')!.textContent).toContain('Local only');
  });

  it('lists notes (windowed), opens one, and saves edits to the title', async () => {
    const fake = start('many', 2000);
    await until(() => $$('note-item').length > 0);
    expect($('note-list')!.dataset.count).toBe('2000');
    expect($$('note-item').length).toBeLessThan(60);
    $$('note-item')[1]!.click();
    const title = await until(() => $('note-title') as HTMLInputElement | null);
    await tick(20);
    title.value = 'Renamed';
    title.dispatchEvent(new InputEvent('input', { bubbles: true }));
    expect($('save-state')!.textContent).toBe('Saving…');
    title.dispatchEvent(new FocusEvent('blur'));
    await until(() => $('save-state')!.textContent === 'Saved');
    const id = $('note-pane')!.dataset.noteId!;
    expect((await fake.api.getNote(id)).title).toBe('Renamed');
    expect($('status-pending')!.textContent).toBe('1 pending');
  });

  it('new note with Ctrl+N, and its edits survive switching notes at once', async () => {
    const fake = start('many', 50);
    await until(() => $$('note-item').length > 0);
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'n', ctrlKey: true, bubbles: true }));
    const title = await until(() => $('note-title') as HTMLInputElement | null);
    await tick(20);
    const id = $('note-pane')!.dataset.noteId!;
    title.value = 'Fresh';
    title.dispatchEvent(new InputEvent('input', { bubbles: true }));
    // Switch before the debounce fires: the switch flushes.
    $$('note-item').find((e) => e.dataset.noteId !== id)!.click();
    await until(async () => (await fake.api.getNote(id)).title === 'Fresh');
    await until(() => $$('note-item-title').some((e) => e.textContent === 'Fresh'));
  });

  it('offline with pending, then the conflict view settles a conflict', async () => {
    start('offline', 20);
    await until(() => $('status-connectivity')?.textContent?.includes('Working offline'));
    expect($('status-pending')!.textContent).toBe('4 pending');
    dispose?.();
    document.body.innerHTML = '';

    const fake = start('conflict', 20);
    await until(() => $('status-conflicts'));
    $('status-conflicts')!.click();
    await until(() => $('conflict-view'));
    expect($('conflict-kind')!.textContent).toBe('Overlapping edits');
    expect($('conflict-reassurance')!.textContent).toContain('Nothing has been lost');
    expect($('conflict-mine-body')!.textContent).toContain('TP 1351');
    expect($('conflict-theirs-body')!.textContent).toContain('Saturday');
    $('conflict-take-theirs')!.click();
    await until(() => !$('conflict-view'));
    expect(await fake.api.listConflicts()).toHaveLength(0);
    expect($('note-pane')).not.toBeNull();
  });

  it('a passphrase store opens from the lock screen, and a wrong passphrase says so', async () => {
    start('locked', 5);
    const input = await until(() => $('lock-passphrase') as HTMLInputElement | null);
    input.value = 'nope';
    input.dispatchEvent(new InputEvent('input', { bubbles: true }));
    $('lock-submit')!.click();
    await until(() => $('lock-error')?.textContent?.includes('Wrong passphrase'));
    input.value = 'correct horse battery';
    input.dispatchEvent(new InputEvent('input', { bubbles: true }));
    $('lock-submit')!.click();
    await until(() => $$('note-item').length > 0);
    expect($('lock-screen')).toBeNull();
  });

  it('a keyring that cannot be reached fails closed, with the way out', async () => {
    start('key_unavailable', 5);
    await until(() => $('lock-unavailable'));
    expect($('lock-unavailable')!.textContent).toContain('keyring');
    expect($('lock-passphrase')).toBeNull();
  });

  it('reopens the note that was open last time', async () => {
    localStorage.setItem('outpost.lastNote', '0190a1b2-c3d4-7e5f-8a9b-000000001003');
    start('many', 10);
    await until(() => $('note-pane')?.dataset.noteId === '0190a1b2-c3d4-7e5f-8a9b-000000001003');
  });

  it('the offline switch calls set_network and the bar follows', async () => {
    start('many', 10);
    await until(() => $('status-connectivity')?.textContent?.includes('Online'));
    $('network-button')!.click();
    const sw = await until(() => document.querySelector<HTMLInputElement>('[data-testid="network-popover"] [data-testid="offline-switch"]'));
    sw.checked = true;
    sw.dispatchEvent(new Event('change', { bubbles: true }));
    await until(() => $('status-connectivity')!.textContent!.includes('Working offline'));
  });
});
