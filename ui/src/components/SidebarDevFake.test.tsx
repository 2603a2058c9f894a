// @vitest-environment jsdom
// The dev harness's fake (dev/fake.ts) answers the notebook calls, so the
// harness shows the sidebar: a seeded nested tree, the core's rules for
// names and cycles, a note moved into a notebook, and the `notebook:`
// filter of a search.
import { render } from 'solid-js/web';
import { describe, expect, it } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import { ApiError } from '../api/errors';
import { App } from '../App';
import { $, $$, appDom, until } from '../testing/app-dom';

const mounted = appDom();

describe('the dev fake: notebooks', () => {
  it('seeds a nested tree that the sidebar shows, with counts', async () => {
    const fake = createFakeApi({ scenario: 'many', count: 50, theme: 'light' });
    const tree = await fake.api.notebooks!.listNotebooks();
    const paths = tree.map((b) => b.path);
    expect(paths).toContain('Work/Projects/Outpost launch');
    expect(Math.max(...tree.map((b) => b.depth))).toBe(2);
    // Tree order: every notebook comes after its parent.
    tree.forEach((b, i) => {
      if (b.parent) expect(tree.findIndex((p) => p.id === b.parent)).toBeLessThan(i);
    });
    expect(tree.reduce((k, b) => k + b.notes, 0)).toBeGreaterThan(0);

    const root = document.createElement('div');
    document.body.appendChild(root);
    mounted.dispose = render(() => <App api={fake.api} />, root);
    await until(() => $$('notebook-item').length === tree.length);
    expect($$('notebook-name').map((e) => e.textContent)).toEqual(tree.map((b) => b.name));
    expect($$('notebook-count').map((e) => Number(e.textContent))).toEqual(tree.map((b) => b.notes));
  });

  it('an empty store has the sidebar and no notebooks', async () => {
    const fake = createFakeApi({ scenario: 'empty', count: 0, theme: 'light' });
    expect(await fake.api.notebooks!.listNotebooks()).toEqual([]);
    const root = document.createElement('div');
    document.body.appendChild(root);
    mounted.dispose = render(() => <App api={fake.api} />, root);
    await until(() => $('notebooks'));
    expect($$('notebook-item')).toHaveLength(0);
  });

  it('keeps the core rules: sibling names unique, no "/", no cycle; a delete moves notes up', async () => {
    const fake = createFakeApi({ scenario: 'local', count: 3, theme: 'light', seedNotebooks: false });
    const nb = fake.api.notebooks!;
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: ApiError) => e.code);
    const top = await nb.createNotebook('Trips', null);
    const inner = await nb.createNotebook('Alps', top.id);
    expect(inner).toMatchObject({ depth: 1, path: 'Trips/Alps', parent: top.id });
    expect(await code(nb.createNotebook('trips', null))).toBe('notebook_name_taken');
    expect(await code(nb.createNotebook('a/b', null))).toBe('invalid_input');
    expect(await code(nb.moveNotebook(top.id, inner.id))).toBe('notebook_cycle');
    expect(await code(nb.renameNotebook('nope', 'x'))).toBe('notebook_not_found');
    // Refused calls changed nothing.
    expect((await nb.listNotebooks()).map((b) => b.path)).toEqual(['Trips', 'Trips/Alps']);

    const [first] = await fake.api.listNotes();
    await nb.moveNote(first!.id, inner.id);
    expect((await nb.listNotebooks()).find((b) => b.id === inner.id)!.notes).toBe(1);
    expect(await nb.deleteNotebook(inner.id)).toEqual({ notes_moved: 1, notebooks_moved: 0 });
    expect((await nb.listNotebooks()).map((b) => [b.path, b.notes])).toEqual([['Trips', 1]]);
  });

  it('a search with notebook: finds the notes in that notebook and those inside it, by name, quoted or not', async () => {
    const fake = createFakeApi({ scenario: 'local', count: 4, theme: 'light', seedNotebooks: false });
    const nb = fake.api.notebooks!;
    const notes = await fake.api.listNotes();
    const outer = await nb.createNotebook('Deep work', null);
    const inner = await nb.createNotebook('Drafts', outer.id);
    await nb.moveNote(notes[0]!.id, outer.id);
    await nb.moveNote(notes[1]!.id, inner.id);
    const ids = async (q: string) => (await fake.api.searchNotes(q)).map((h) => h.id).sort();
    expect(await ids('notebook:"Deep work" ')).toEqual([notes[0]!.id, notes[1]!.id].sort());
    expect(await ids('notebook:drafts')).toEqual([notes[1]!.id]);
    expect(await ids('notebook:nowhere')).toEqual([]);
    // The rest of the query still narrows within the notebook.
    expect(await ids(`notebook:"Deep work" ${notes[1]!.title.split(' ')[0]!.toLowerCase()}`)).toContain(notes[1]!.id);
  });
});
