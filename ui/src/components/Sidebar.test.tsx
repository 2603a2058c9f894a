// @vitest-environment jsdom
// The notebook sidebar over an in-memory notebook store: the tree with its
// counts, choosing a notebook, making one inside the chosen one, renaming,
// deleting behind a confirmation, a note dropped on a notebook, and a
// refusal from the core shown, not swallowed.
import { render } from 'solid-js/web';
import { describe, expect, it } from 'vitest';
import { NOTE_DRAG_TYPE, notebookQuery } from '../api/notebooks';
import { createFakeApi } from '../../dev/fake';
import { App } from '../App';
import { $, $$, appDom, until } from '../testing/app-dom';
import { fakeStore } from '../testing/notebooks-fake';
import { Sidebar } from './Sidebar';

const mounted = appDom();

function start(store = fakeStore()) {
  const state = { selected: null as string | null, errors: [] as string[], moved: [] as string[] };
  const root = document.createElement('div');
  document.body.appendChild(root);
  // Re-rendered by hand on selection: the test plays the App's part.
  const draw = () => {
    mounted.dispose?.();
    root.innerHTML = '';
    mounted.dispose = render(
      () => (
        <Sidebar
          api={store.api}
          selected={state.selected}
          onSelect={(nb) => {
            state.selected = nb?.id ?? null;
            draw();
          }}
          onMoved={(id, nb) => state.moved.push(`${id}→${nb.name}`)}
          onError={(e) => state.errors.push((e as Error).message)}
        />
      ),
      root,
    );
  };
  draw();
  return { store, state };
}

const names = () => $$('notebook-item').map((li) => `${li.getAttribute('aria-level')}:${$('notebook-name', li)?.textContent}:${$('notebook-count', li)?.textContent}`);

async function type(value: string) {
  const input = (await until(() => $('notebook-input'))) as HTMLInputElement;
  input.value = value;
  input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
}

describe('the notebook sidebar', () => {
  it('makes notebooks at the top and inside the chosen one, and shows the tree with counts', async () => {
    const { store, state } = start();
    expect($('notebook-all')!.getAttribute('aria-selected')).toBe('true');
    $('notebook-new')!.click();
    await type('Work');
    await until(() => names().length === 1);
    $('notebook-new')!.click();
    await type('Home');
    await until(() => names().length === 2);
    expect(names()).toEqual(['1:Home:0', '1:Work:0']);

    // Choose Work, then make a notebook: it goes inside Work.
    $$('notebook-item')[1]!.click();
    expect(state.selected).toBe('b1');
    await until(() => $$('notebook-item')[1]?.getAttribute('aria-selected') === 'true');
    $('notebook-new')!.click();
    await type('Projects');
    await until(() => names().length === 3);
    expect(names()).toEqual(['1:Home:0', '1:Work:0', '2:Projects:0']);
    expect(store.calls).toContain('create Projects in b1');
    expect($$('notebook-item')[2]!.getAttribute('title')).toBe('Work/Projects');
  });

  it('shows a refusal from the core and keeps the name being typed', async () => {
    const store = fakeStore();
    store.books.set('b9', { name: 'Work', parent: null });
    const { state } = start(store);
    await until(() => names().length === 1);
    $('notebook-new')!.click();
    await type('work');
    await until(() => state.errors.length === 1);
    expect(state.errors[0]).toContain('already a notebook named');
    expect($('notebook-input')).not.toBeNull();
    expect(names()).toEqual(['1:Work:0']);
  });

  it('moves a note dropped on a notebook there and counts it', async () => {
    const store = fakeStore();
    store.books.set('b1', { name: 'Work', parent: null });
    const { state } = start(store);
    const item = await until(() => $$('notebook-item')[0]);
    const data = new Map<string, string>([[NOTE_DRAG_TYPE, 'n2']]);
    const dataTransfer = { types: [...data.keys()], getData: (t: string) => data.get(t) ?? '' };
    const over = new Event('dragover', { bubbles: true, cancelable: true });
    Object.defineProperty(over, 'dataTransfer', { value: dataTransfer });
    item.dispatchEvent(over);
    expect(over.defaultPrevented).toBe(true);
    const dropped = new Event('drop', { bubbles: true, cancelable: true });
    Object.defineProperty(dropped, 'dataTransfer', { value: dataTransfer });
    item.dispatchEvent(dropped);
    await until(() => names()[0] === '1:Work:1');
    expect(store.notes.get('n2')).toBe('b1');
    expect(state.moved).toEqual(['n2→Work']);
  });

  it('renames on double-click and deletes behind a confirmation, notes moving up', async () => {
    const store = fakeStore();
    store.books.set('b1', { name: 'Work', parent: null });
    store.books.set('b2', { name: 'Old', parent: 'b1' });
    store.notes.set('n1', 'b2');
    start(store);
    await until(() => names().length === 2);
    expect(names()).toEqual(['1:Work:0', '2:Old:1']);
    $$('notebook-item')[1]!.dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    await type('Archive');
    await until(() => names()[1] === '2:Archive:1');

    $('notebook-delete', $$('notebook-item')[1])!.click();
    expect(store.calls.filter((c) => c.startsWith('delete'))).toEqual([]);
    (await until(() => $('notebook-delete-confirm')))!.click();
    await until(() => names().length === 1);
    expect(names()).toEqual(['1:Work:1']);
    expect(store.notes.get('n1')).toBe('b1');
  });

  it('narrows the list with a notebook: search', () => {
    expect(notebookQuery({ name: 'Deep work' })).toBe('notebook:"Deep work" ');
  });

  it('in the app: choosing a notebook searches for it, typing another search lets go of it, All notes clears it', async () => {
    const store = fakeStore();
    store.books.set('b1', { name: 'Deep work', parent: null });
    const fake = createFakeApi({ scenario: 'local', count: 5, theme: 'light' });
    const root = document.createElement('div');
    document.body.appendChild(root);
    mounted.dispose = render(() => <App api={{ ...fake.api, notebooks: store.api }} />, root);
    const search = (await until(() => $('search-input'))) as HTMLInputElement;
    (await until(() => $$('notebook-item')[0]))!.click();
    await until(() => search.value === 'notebook:"Deep work" ');
    await until(() => $$('notebook-item')[0]?.getAttribute('aria-selected') === 'true');
    search.value = 'something else';
    search.dispatchEvent(new InputEvent('input', { bubbles: true }));
    await until(() => $$('notebook-item')[0]?.getAttribute('aria-selected') === 'false');
    expect($('notebook-all')!.getAttribute('aria-selected')).toBe('true');
    $$('notebook-item')[0]!.click();
    await until(() => search.value.startsWith('notebook:'));
    $('notebook-all')!.click();
    await until(() => search.value === '');
    // Without notebook calls (an older shell) there is no sidebar.
    mounted.dispose?.();
    document.body.innerHTML = '';
    const bare = document.createElement('div');
    document.body.appendChild(bare);
    mounted.dispose = render(() => <App api={{ ...fake.api, notebooks: undefined }} />, bare);
    await until(() => $('search-input'));
    expect($('notebooks')).toBeNull();
  });
});
