// @vitest-environment jsdom
// The Trash over an in-memory history: the trashed notes with when each
// goes for good, Restore, Delete for good behind a confirmation, Empty
// trash behind a confirmation; and in the whole app: Delete says "Moved to
// the trash" with Undo, the Trash button lists the note, Restore puts it
// back in the list.
import { render } from 'solid-js/web';
import { describe, expect, it } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import type { Note } from '../api/types';
import { App } from '../App';
import { $, $$, appDom, until } from '../testing/app-dom';
import { fakeHistory } from '../testing/history-fake';
import { TrashView } from './TrashView';

const mounted = appDom();
const NOW = Date.UTC(2026, 0, 10, 12);

function start(ids = ['a', 'b', 'c'], deletedAt = NOW) {
  const notes = new Map<string, Note>();
  const h = fakeHistory(notes, () => deletedAt);
  for (const id of ids) {
    notes.set(id, { id, title: `Note ${id}`, body: 'x', tags: [], pinned: false, created_at: NOW, updated_at: NOW, hlc: 'h', server_rev: null, deleted: false, sync: 'synced' } as Note);
    h.trash(id);
  }
  const out = { restored: [] as string[], deleted: [] as number[], errors: [] as string[] };
  const root = document.createElement('div');
  document.body.appendChild(root);
  mounted.dispose = render(
    () => (
      <TrashView
        api={h.api}
        now={NOW}
        onRestored={(n) => out.restored.push(n.id)}
        onDeleted={(n) => out.deleted.push(n)}
        onError={(e) => out.errors.push((e as Error).message)}
      />
    ),
    root,
  );
  return { h, notes, out };
}

describe('TrashView', () => {
  it('lists the trashed notes with when each goes for good, and restores one', async () => {
    const { h, notes, out } = start();
    await until(() => $$('trash-item').length === 3);
    expect($$('trash-item')[0]!.textContent).toContain('Note a');
    expect($$('trash-item')[0]!.textContent).toContain('goes for good in 30 days');
    $$('trash-restore')[1]!.click();
    await until(() => $$('trash-item').length === 2);
    expect(out.restored).toEqual(['b']);
    expect(notes.get('b')!.deleted).toBe(false);
    expect(h.trashedAt.has('b')).toBe(false);
  });

  it('counts from the deletion when the minute clock it is given lags it', async () => {
    // Deleted 40 s after the last tick of `now`: still 30 days, not 31.
    start(['a'], NOW + 40_000);
    await until(() => $$('trash-item').length === 1);
    expect($$('trash-item')[0]!.textContent).toContain('goes for good in 30 days');
  });

  it('deletes one for good only after the confirmation', async () => {
    const { notes, out } = start();
    await until(() => $$('trash-item').length === 3);
    $$('trash-delete')[0]!.click();
    expect(notes.has('a')).toBe(true);
    (await until(() => $('trash-delete-confirm')))!.click();
    await until(() => $$('trash-item').length === 2);
    expect(notes.has('a')).toBe(false);
    expect(out.deleted).toEqual([1]);
  });

  it('empties the trash only after the confirmation; cancel changes nothing', async () => {
    const { h, notes, out } = start();
    (await until(() => $('trash-empty-button')))!.click();
    expect($('trash-empty-confirm')).not.toBeNull();
    [...document.querySelectorAll<HTMLButtonElement>('.trash-foot button')].find((b) => b.textContent === 'Cancel')!.click();
    await until(() => $('trash-empty-button'));
    expect(h.calls).not.toContain('empty');
    $('trash-empty-button')!.click();
    (await until(() => $('trash-empty-confirm')))!.click();
    await until(() => $('trash-empty'));
    expect($('trash-empty')!.textContent).toBe('The trash is empty.');
    expect(notes.size).toBe(0);
    expect(out.deleted).toEqual([3]);
  });

  it('a refusal is shown', async () => {
    const { h, out } = start(['a']);
    await until(() => $$('trash-item').length === 1);
    h.trashedAt.delete('a');
    $('trash-restore')!.click();
    await until(() => out.errors.length === 1);
    expect(out.errors[0]).toMatch(/not in the trash/);
  });

  it('in the app: Delete moves to the trash with Undo; the Trash restores', async () => {
    const fake = createFakeApi({ scenario: 'local', count: 5, theme: 'light' });
    const root = document.createElement('div');
    document.body.appendChild(root);
    mounted.dispose = render(() => <App api={fake.api} />, root);
    const first = (await until(() => $$('note-item')[0]))!;
    const id = first.dataset.noteId!;
    const del = async () => {
      $$('note-item').find((r) => r.dataset.noteId === id)!.click();
      (await until(() => $('note-menu')))!.click();
      (await until(() => $('note-delete')))!.click();
      (await until(() => $('note-delete-confirm')))!.click();
      await until(() => !$$('note-item').some((r) => r.dataset.noteId === id));
      await until(() => $('toasts')!.textContent!.includes('Moved to the trash.'));
    };
    await del();
    // Undo brings it back.
    $('toast-action')!.click();
    await until(() => $$('note-item').some((r) => r.dataset.noteId === id));
    await del();
    $('trash-button')!.click();
    await until(() => $$('trash-item').some((r) => r.dataset.id === id));
    $$('trash-item')
      .find((r) => r.dataset.id === id)!
      .querySelector<HTMLElement>('[data-testid="trash-restore"]')!
      .click();
    await until(() => $$('note-item').some((r) => r.dataset.noteId === id));
    await until(() => $('toasts')!.textContent!.includes('back from the trash'));
  });
});
