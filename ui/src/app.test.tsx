// @vitest-environment jsdom
// The whole app over the dev harness's in-memory core: start-up, the list,
// the status bar, a new note autosaved, offline with pending, a conflict
// settled, and what another device's changes do to the list and the open
// note. CodeMirror runs in jsdom well enough for this.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
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
/**
 * Resolves with `f()` once it holds, checked again every few milliseconds
 * while the app works. The limit only keeps a broken test from hanging
 * until the test timeout (it then fails naming the condition): no pass or
 * fail depends on how fast the machine is, and nothing sleeps.
 */
function until<T>(f: () => T | null | undefined | false | Promise<T | null | undefined | false>): Promise<T> {
  return vi.waitFor(
    async () => {
      const v = await f();
      if (!v) throw new Error(`still waiting for ${f.toString()}`);
      return v;
    },
    { timeout: 20_000, interval: 5 },
  );
}

/** The note pane once its note is loaded and its editor is up (the editor's code loads lazily). */
const notePaneReady = () => (document.querySelector('[data-testid="note-pane"] .cm-content') ? $('note-pane') : null);
const row = (id: string) => document.querySelector<HTMLElement>(`[data-testid="note-item"][data-note-id="${id}"]`);

function start(
  scenario: Parameters<typeof createFakeApi>[0]['scenario'],
  count: number,
  before?: (fake: ReturnType<typeof createFakeApi>) => void,
) {
  const fake = createFakeApi({ scenario, count, theme: 'light' });
  before?.(fake);
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
    await until(notePaneReady);
    const title = $('note-title') as HTMLInputElement;
    expect(title.value).not.toBe('Renamed');
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
    await until(notePaneReady);
    const title = $('note-title') as HTMLInputElement;
    const id = $('note-pane')!.dataset.noteId!;
    expect(title.value).toBe('');
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

describe('settings', () => {
  it("applies the core's theme once it answers, shows the account, and writes a new theme back", async () => {
    // The theme painted from the cache stays until the core's setting is known.
    document.documentElement.dataset.theme = 'cached';
    let answer!: () => void;
    const fake = start('many', 5, (f) => {
      const real = f.api.getSettings;
      vi.spyOn(f.api, 'getSettings').mockImplementationOnce(() => new Promise((r) => (answer = () => r(real()))));
    });
    await until(() => $$('note-item').length > 0 && answer);
    expect(document.documentElement.dataset.theme).toBe('cached');
    answer();
    await until(() => document.documentElement.dataset.theme === 'light');
    expect(localStorage.getItem('outpost.theme')).toBe('light');
    $('settings-button')!.click();
    // The dialog is in a portal: it reaches the state through the context all the same.
    await until(() => $('account-username')?.textContent === 'ada');
    expect(($('strategy-auto_merge') as HTMLInputElement).checked).toBe(true);
    $('theme-dark')!.click();
    await until(() => document.documentElement.dataset.theme === 'dark');
    expect(await fake.api.getSettings()).toEqual({ theme: 'dark' });
  });
});

describe('sync policy and device situation', () => {
  const radio = (id: string) => $(id) as HTMLInputElement | null;

  it('settings load the sync policy, save each change, and put back one the core refuses', async () => {
    const fake = start('many', 5);
    const setSyncPolicy = vi.spyOn(fake.api, 'setSyncPolicy');
    await until(() => $$('note-item').length > 0);
    $('settings-button')!.click();
    // The core's defaults, once it has answered.
    await until(() => radio('sync-metered-small_changes_only')?.checked);
    expect(radio('sync-pause-low-battery')!.checked).toBe(true);
    expect(($('settings-sync-policy') as HTMLFieldSetElement).disabled).toBe(false);

    radio('sync-metered-never')!.click();
    await until(async () => (await fake.api.getSyncPolicy()).metered === 'never');
    expect(setSyncPolicy).toHaveBeenLastCalledWith({ metered: 'never', pause_on_low_battery: true });

    radio('sync-pause-low-battery')!.click();
    await until(async () => !(await fake.api.getSyncPolicy()).pause_on_low_battery);
    expect(setSyncPolicy).toHaveBeenLastCalledWith({ metered: 'never', pause_on_low_battery: false });

    setSyncPolicy.mockRejectedValueOnce({ code: 'store', message: 'The store cannot be written.' });
    radio('sync-metered-always')!.click();
    await until(() => $('toast-error')?.textContent?.includes('The store cannot be written.'));
    // What the core holds shows again.
    await until(() => radio('sync-metered-never')?.checked);
    expect(radio('sync-metered-always')!.checked).toBe(false);
    expect(await fake.api.getSyncPolicy()).toEqual({ metered: 'never', pause_on_low_battery: false });
  });

  it('the panel writes the device situation, keeps the other fields, and OS clears one', async () => {
    const fake = start('many', 5, (f) => void f.api.setDeviceSituation({ app: 'background' }));
    const setDeviceSituation = vi.spyOn(fake.api, 'setDeviceSituation');
    await until(() => $('status-connectivity'));
    $('network-button')!.click();
    const inPanel = (id: string) => document.querySelector<HTMLInputElement>(`[data-testid="network-popover"] [data-testid="${id}"]`);
    // Read when the panel shows: nothing forced, so OS.
    await until(() => inPanel('net-metered-os')?.checked && !inPanel('net-metered-os')!.disabled);
    expect(document.querySelector('[data-testid="network-popover"] [data-testid="net-device"]')!.textContent).toContain(
      'Also set elsewhere: app background.',
    );

    inPanel('net-metered-on')!.click();
    await until(async () => (await fake.api.getDeviceSituation()).network === 'metered');
    expect(setDeviceSituation).toHaveBeenLastCalledWith({ app: 'background', network: 'metered' });

    const power = document.querySelector<HTMLSelectElement>('[data-testid="network-popover"] [data-testid="net-power"]')!;
    power.value = 'low';
    power.dispatchEvent(new Event('change', { bubbles: true }));
    await until(async () => (await fake.api.getDeviceSituation()).power === 'low');
    expect(setDeviceSituation).toHaveBeenLastCalledWith({ app: 'background', network: 'metered', power: 'low' });
    // Low battery with "pause on low battery" (the default): the bar says why sync waits.
    await until(() => $('status-deferred')?.textContent === 'Low battery: nothing waits for charging');

    inPanel('net-metered-os')!.click();
    await until(async () => (await fake.api.getDeviceSituation()).network === undefined);
    const cleared = setDeviceSituation.mock.lastCall![0];
    expect('network' in cleared).toBe(false);
    expect(cleared).toEqual({ app: 'background', power: 'low' });

    power.value = '';
    power.dispatchEvent(new Event('change', { bubbles: true }));
    await until(async () => (await fake.api.getDeviceSituation()).power === undefined);
    expect(setDeviceSituation.mock.lastCall![0]).toEqual({ app: 'background' });
    await until(() => !$('status-deferred') && $('status-last-synced'));
  });

  it('the status bar says why sync waits instead of when it last synced, with the whole reason as a tooltip', async () => {
    const fake = start('many', 5);
    await until(() => $('status-last-synced'));
    fake.emitStatus({ pending: 3, deferred: 'on a metered network: 3 changes wait for Wi-Fi' });
    const deferred = await until(() => $('status-deferred'));
    expect(deferred.textContent).toBe('On a metered network: 3 changes wait for Wi-Fi');
    expect(deferred.title).toMatch(/^On a metered network: 3 changes wait for Wi-Fi\. Last synced /);
    expect(deferred.classList.contains('muted')).toBe(true);
    expect($('status-last-synced')).toBeNull();
    expect($('status-pending')!.textContent).toBe('3 pending');
    fake.emitStatus({ deferred: null });
    await until(() => $('status-last-synced'));
    expect($('status-deferred')).toBeNull();
  });
});

describe("another device's changes (notes-changed)", () => {
  const id = (i: number) => `0190a1b2-c3d4-7e5f-8a9b-${(i + 0x1000).toString(16).padStart(12, '0')}`;

  it('update, add and drop rows in place, without listing every note again', async () => {
    const fake = start('many', 10);
    const listNotes = vi.spyOn(fake.api, 'listNotes');
    await until(() => row(id(3)) && row(id(5)));
    const changed = row(id(3))!;
    const other = row(id(5))!;
    const otherTitle = other.querySelector('[data-testid="note-item-title"]')!.firstChild;

    fake.remote.edit(id(3), { title: 'Edited on the laptop' });
    await until(() => row(id(3))?.textContent?.includes('Edited on the laptop'));
    // The same elements: the changed row updated in place, the others untouched.
    expect(row(id(3))).toBe(changed);
    expect(row(id(5))).toBe(other);
    expect(other.querySelector('[data-testid="note-item-title"]')!.firstChild).toBe(otherTitle);
    // Newest first, under the pinned notes (0 and 7).
    expect($$('note-item').map((e) => e.dataset.noteId).slice(0, 3)).toEqual([id(0), id(7), id(3)]);

    const created = fake.remote.create('Written on the phone');
    await until(() => row(created));
    expect($('note-list')!.dataset.count).toBe('11');
    fake.remote.delete(id(5));
    await until(() => !row(id(5)) && $('note-list')!.dataset.count === '10');
    // The list read at start-up, and none since.
    expect(listNotes).toHaveBeenCalledTimes(1);
  });

  it('the open note is read again only when the event names it', async () => {
    const fake = start('many', 10);
    await until(() => row(id(2)));
    row(id(2))!.click();
    await until(() => notePaneReady()?.dataset.noteId === id(2));
    const getNote = vi.spyOn(fake.api, 'getNote');
    const title = $('note-title') as HTMLInputElement;
    const was = title.value;

    fake.remote.edit(id(4), { title: 'Not the open one' });
    await until(() => row(id(4))?.textContent?.includes('Not the open one'));
    expect(getNote).not.toHaveBeenCalled();
    expect(title.value).toBe(was);

    fake.remote.edit(id(2), { title: 'Renamed elsewhere' });
    await until(() => ($('note-title') as HTMLInputElement | null)?.value === 'Renamed elsewhere');
    expect(getNote).toHaveBeenCalledWith(id(2));
  });

  it('a sync pass turns a pending badge to synced without listing every note again', async () => {
    const fake = start('many', 10);
    const listNotes = vi.spyOn(fake.api, 'listNotes');
    await until(() => row(id(1)));
    row(id(1))!.click();
    await until(() => notePaneReady()?.dataset.noteId === id(1));
    const title = $('note-title') as HTMLInputElement;
    title.value = 'Sent by the next pass';
    title.dispatchEvent(new InputEvent('input', { bubbles: true }));
    title.dispatchEvent(new FocusEvent('blur'));
    await until(() => row(id(1))?.dataset.sync === 'pending');
    const pending = row(id(1))!;
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 's', ctrlKey: true, bubbles: true }));
    await until(() => row(id(1))?.dataset.sync === 'synced');
    expect(row(id(1))).toBe(pending);
    expect($('status-pending')!.textContent).toBe('Nothing pending');
    // The list read at start-up, and none since.
    expect(listNotes).toHaveBeenCalledTimes(1);
  });
});
