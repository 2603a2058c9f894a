// @vitest-environment jsdom
// The list's sort menu and its Pinned section, in the whole app over the
// dev harness's core.
import { render } from 'solid-js/web';
import { describe, expect, it } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import { App } from '../App';
import { $, $$, appDom, until } from '../testing/app-dom';

const mounted = appDom();

async function start() {
  const fake = createFakeApi({ scenario: 'empty', count: 0, theme: 'light' });
  for (const [title, pinned] of [
    ['banana', false],
    ['Apple', true],
    ['cherry', false],
    ['apricot', false],
  ] as const) {
    await fake.api.createNote({ title, body: '', tags: [], pinned });
  }
  const root = document.createElement('div');
  document.body.appendChild(root);
  mounted.dispose = render(() => <App api={fake.api} />, root);
  await until(() => $$('note-item').length === 4);
  return fake;
}

/** Titles from top to bottom, as drawn (rows are placed by transform). */
function shown(): string[] {
  const y = (el: HTMLElement) => Number(/translateY\((\d+)px\)/.exec(el.style.transform)?.[1] ?? 0);
  return $$('note-item')
    .sort((a, b) => y(a) - y(b))
    .map((r) => $('note-item-title', r)!.textContent!);
}

describe('the notes list', () => {
  it('sorts by title, creation or last edit, pinned notes in their own section on top, and keeps the choice', async () => {
    await start();
    expect($('list-heading-pinned')!.textContent).toBe('Pinned');
    expect($('list-heading-notes')!.textContent).toBe('Notes');
    const select = $('sort-select') as HTMLSelectElement;
    expect(select.value).toBe('updated');
    select.value = 'title';
    select.dispatchEvent(new Event('change', { bubbles: true }));
    await until(() => shown().join() === 'Apple,apricot,banana,cherry');
    select.value = 'created';
    select.dispatchEvent(new Event('change', { bubbles: true }));
    await until(() => shown()[0] === 'Apple' && shown().length === 4);
    expect(localStorage.getItem('outpost.sort')).toBe('created');
    // Rows sit below the headings: the first unpinned row below "Notes".
    const notesHeading = Number(/translateY\((\d+)px\)/.exec($('list-heading-notes')!.style.transform)![1]);
    const rows = $$('note-item').filter((r) => r.getAttribute('aria-posinset') === '2');
    expect(Number(/translateY\((\d+)px\)/.exec(rows[0]!.style.transform)![1])).toBeGreaterThan(notesHeading);
  });

  it('shows no sections while searching, and marks the matches', async () => {
    await start();
    ($('search-input') as HTMLInputElement).value = 'a';
    $('search-input')!.dispatchEvent(new InputEvent('input', { bubbles: true }));
    await until(() => !$('list-heading-pinned'));
    expect($('list-heading-notes')).toBeNull();
    // The matches are marked in the titles.
    const marks = await until(() => [...document.querySelectorAll('[data-testid="note-item-title"] mark')]);
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.every((m) => m.textContent!.toLowerCase() === 'a')).toBe(true);
  });
});
