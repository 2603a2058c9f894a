// @vitest-environment jsdom
// The history panel over an in-memory history: the timeline (when, why,
// device, size), the chosen version's line diff against the current text,
// Restore making a new version (none rewritten), "Bring back" on a
// last-writer-wins loser, and a refusal shown, not swallowed. Then in the
// whole app: the note's menu opens History, and a restore reaches the editor.
import { render } from 'solid-js/web';
import { describe, expect, it } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import type { Note } from '../api/types';
import { App } from '../App';
import { $, $$, appDom, until } from '../testing/app-dom';
import { fakeHistory } from '../testing/history-fake';
import { byteSize, HistoryPanel, lineDiff } from './HistoryPanel';

const mounted = appDom();
const NOW = Date.UTC(2026, 0, 10, 12);

function note(body: string): Note {
  return { id: 'n1', title: 'Plan', body, tags: [], pinned: false, created_at: NOW, updated_at: NOW, hlc: 'h', server_rev: null, deleted: false, sync: 'synced' } as Note;
}

function start() {
  const notes = new Map<string, Note>();
  const h = fakeHistory(notes, () => NOW);
  const first = note('one\ntwo');
  notes.set('n1', first);
  h.record(first, 'edit', NOW - 3 * 86_400_000);
  h.record(note('one\ntwo\nthe other device'), 'lww_loser', NOW - 2 * 3_600_000, '000000000000b0b0');
  const now = note('one\nthree');
  notes.set('n1', now);
  h.record(now, 'edit', NOW - 60_000);
  const out = { restored: [] as Note[], errors: [] as string[] };
  const root = document.createElement('div');
  document.body.appendChild(root);
  mounted.dispose = render(
    () => (
      <HistoryPanel
        api={h.api}
        noteId="n1"
        currentBody={notes.get('n1')!.body}
        now={NOW}
        onRestored={(n) => out.restored.push(n)}
        onError={(e) => out.errors.push((e as Error).message)}
      />
    ),
    root,
  );
  return { h, notes, out };
}

describe('HistoryPanel', () => {
  it('lists the versions newest first with when, why, device and size', async () => {
    start();
    await until(() => $$('history-item').length === 3);
    const items = $$('history-item');
    expect(items.map((i) => i.dataset.why)).toEqual(['edit', 'lww_loser', 'edit']);
    expect(items[0]!.textContent).toContain('1 min ago');
    expect(items[0]!.textContent).toContain('current');
    expect(items[1]!.textContent).toContain('Lost a conflict');
    expect(items[1]!.textContent).toContain('00b0b0');
    expect(items[2]!.textContent).toContain('3 days ago');
    expect(items[2]!.textContent).toMatch(/\d+ B/);
  });

  it('shows the chosen version as a diff against the current text, and restores it as a new version', async () => {
    const { h, notes, out } = start();
    // The newest version that is not the current one is chosen first: the loser.
    await until(() => $('history-restore')?.textContent === 'Bring back');
    $$('history-item')[2]!.click();
    await until(() => $('history-restore')?.textContent === 'Restore this version');
    const lines = [...$('history-diff')!.querySelectorAll<HTMLElement>('.diff-line')].map((l) => `${l.dataset.kind}:${l.textContent!.slice(1)}`);
    expect(lines).toEqual(['same:one', 'removed:two', 'added:three']);

    $('history-restore')!.click();
    await until(() => out.restored.length === 1);
    expect(out.restored[0]!.body).toBe('one\ntwo');
    expect(notes.get('n1')!.body).toBe('one\ntwo');
    await until(() => $$('history-item').length === 4);
    expect($$('history-item')[0]!.dataset.why).toBe('restore');
    expect(h.calls.filter((c) => c.startsWith('restore'))).toHaveLength(1);
    expect(out.errors).toEqual([]);
  });

  it('brings back the text a last-writer-wins merge did not keep', async () => {
    const { notes, out } = start();
    await until(() => $('history-restore')?.textContent === 'Bring back');
    $('history-restore')!.click();
    await until(() => out.restored.length === 1);
    expect(notes.get('n1')!.body).toBe('one\ntwo\nthe other device');
  });

  it('a refusal is shown, and nothing changes', async () => {
    const { h, notes, out } = start();
    await until(() => $('history-restore'));
    notes.delete('n1');
    $('history-restore')!.click();
    await until(() => out.errors.length === 1);
    expect(out.errors[0]).toMatch(/No note/);
    expect(h.calls.some((c) => c.startsWith('restore'))).toBe(true);
    expect(out.restored).toEqual([]);
  });

  it('lineDiff and byteSize', () => {
    expect(lineDiff('a\nb', 'a\nb')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'same', text: 'b' },
    ]);
    expect(lineDiff('', 'x').map((l) => l.kind)).toEqual(['added']);
    expect(byteSize(340)).toBe('340 B');
    expect(byteSize(1234)).toBe('1.2 KB');
  });

  it('in the app: History in the note menu, a restore shows in the editor and the list', async () => {
    const fake = createFakeApi({ scenario: 'local', count: 5, theme: 'light' });
    const root = document.createElement('div');
    document.body.appendChild(root);
    mounted.dispose = render(() => <App api={fake.api} />, root);
    (await until(() => $$('note-item')[0]))!.click();
    (await until(() => $('note-menu')))!.click();
    (await until(() => $('note-history')))!.click();
    await until(() => $$('history-item').length >= 2);
    const older = $$('history-item').at(-1)!;
    older.click();
    await until(() => $('history-restore')?.textContent === 'Restore this version');
    const title = $('history-title')!.textContent;
    $('history-restore')!.click();
    await until(() => document.body.textContent?.includes('Version restored'));
    await until(() => $$('history-item')[0]?.dataset.why === 'restore');
    expect(($('note-title') as HTMLInputElement).value).toBe(title === 'Untitled' ? '' : title);
    // Escape closes the panel.
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await until(() => !$('history-panel'));
  });
});
