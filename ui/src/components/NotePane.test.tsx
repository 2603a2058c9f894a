// @vitest-environment jsdom
// The open note's new pieces in the whole app over the dev harness's core:
// `[[Title]]` links (open, the newest of several, offer to create), web
// links behind a confirmation, task checkboxes that edit the text, the
// word count, and the tag editor with completion.
import { render } from 'solid-js/web';
import { EditorView } from '@codemirror/view';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import { App } from '../App';
import { $, $$, appDom, until } from '../testing/app-dom';

const mounted = appDom();
beforeAll(() => {
  // CodeMirror measures text through ranges; jsdom's have no geometry.
  document.createRange = (() => {
    const r = new Range();
    r.getBoundingClientRect = () => ({ x: 0, y: 0, width: 0, height: 0, top: 0, left: 0, right: 0, bottom: 0, toJSON() {} }) as DOMRect;
    r.getClientRects = () => ({ length: 0, item: () => null, [Symbol.iterator]: [][Symbol.iterator] }) as unknown as DOMRectList;
    return r;
  }) as typeof document.createRange;
});

type Fake = ReturnType<typeof createFakeApi>;

async function start(body: string, tags: string[] = []): Promise<{ fake: Fake; id: string }> {
  const fake = createFakeApi({ scenario: 'local', count: 5, theme: 'light' });
  const note = await fake.api.createNote({ title: 'Start here', body, tags, pinned: false });
  const root = document.createElement('div');
  document.body.appendChild(root);
  mounted.dispose = render(() => <App api={fake.api} />, root);
  (await until(() => document.querySelector<HTMLElement>(`[data-testid="note-item"][data-note-id="${note.id}"]`))).click();
  await until(() => document.querySelector('[data-testid="note-pane"] .cm-content'));
  return { fake, id: note.id };
}

async function preview(): Promise<HTMLElement> {
  $('preview-toggle')!.click();
  return until(() => $('preview'));
}

const openTitle = () => ($('note-title') as HTMLInputElement | null)?.value;

describe('links in the preview', () => {
  it('[[Title]] opens that note; of two with the title, the newest, and says so', async () => {
    const { fake } = await start('See [[Garden plan]].');
    await fake.api.createNote({ title: 'Garden plan', body: 'old', tags: [], pinned: false });
    // Edited a minute later.
    vi.spyOn(Date, 'now').mockReturnValueOnce(Date.now() + 60_000);
    const newer = await fake.api.createNote({ title: 'garden plan', body: 'new', tags: [], pinned: false });
    const p = await preview();
    p.querySelector<HTMLElement>('a.wikilink')!.click();
    await until(() => $('note-pane')?.getAttribute('data-note-id') === newer.id);
    expect(openTitle()).toBe('garden plan');
    expect((await until(() => $('toast-info'))).textContent).toContain('2 notes are titled');
  });

  it('a [[Title]] no note has offers to create it', async () => {
    const { id } = await start('Next: [[Packing list]]');
    (await preview()).querySelector<HTMLElement>('a.wikilink')!.click();
    const dialog = await until(() => $('link-dialog'));
    expect(dialog.textContent).toContain('No note is titled “Packing list”');
    $('link-confirm')!.click();
    await until(() => openTitle() === 'Packing list' && $('note-pane')?.getAttribute('data-note-id') !== id);
  });

  it('a web link opens in the browser only after a yes; other links do nothing', async () => {
    const { fake } = await start('[site](https://example.org/page) and [file](file:///etc/passwd) and [rel](other.md)');
    const p = await preview();
    const links = [...p.querySelectorAll<HTMLElement>('a')];
    links[1]!.click();
    links[2]?.click();
    expect($('link-dialog')).toBeNull();
    links[0]!.click();
    await until(() => $('link-dialog'));
    expect($('link-url')!.textContent).toBe('https://example.org/page');
    $('link-dialog')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await until(() => !$('link-dialog'));
    expect(fake.transfer.opened).toEqual([]);
    links[0]!.click();
    (await until(() => $('link-confirm'))).click();
    await until(() => fake.transfer.opened.length === 1);
    expect(fake.transfer.opened).toEqual(['https://example.org/page']);
  });
});

describe('task lists', () => {
  it('a checkbox in the preview ticks the task in the text, saved like typing', async () => {
    const { fake, id } = await start('- [ ] milk\n- [x] bread');
    const p = await preview();
    const boxes = () => [...p.querySelectorAll<HTMLElement>('.task-box')];
    expect(boxes().map((b) => b.getAttribute('aria-checked'))).toEqual(['false', 'true']);
    boxes()[0]!.click();
    await until(() => boxes()[0]?.getAttribute('aria-checked') === 'true');
    boxes()[1]!.click();
    await until(async () => (await fake.api.getNote(id)).body === '- [x] milk\n- [ ] bread');
  });
});

describe('the word count', () => {
  it('counts the open note and follows typing', async () => {
    await start('Three small words');
    expect($('word-count')!.textContent).toBe('3 words · 17 characters');
    // An edit as typing makes it (jsdom cannot type into CodeMirror).
    const view = EditorView.findFromDOM(document.querySelector<HTMLElement>('.cm-editor')!)!;
    view.dispatch({ changes: { from: view.state.doc.length, insert: ' and more' }, userEvent: 'input.type' });
    await until(() => $('word-count')!.getAttribute('data-words') === '5');
    expect($('word-count')!.textContent).toBe('5 words · 26 characters');
  });
});

describe('the tag editor', () => {
  it('adds a tag from completion and by typing, removes one, and saves each', async () => {
    const { fake, id } = await start('body', ['work']);
    await fake.api.createNote({ title: 'other', body: '', tags: ['ideas', 'reading'], pinned: false });
    await fake.api.createNote({ title: 'other 2', body: '', tags: ['reading'], pinned: false });
    expect($$('tag-chip').map((c) => c.getAttribute('data-tag'))).toEqual(['work']);
    const input = $('tag-input') as HTMLInputElement;
    input.focus();
    input.dispatchEvent(new FocusEvent('focus'));
    await until(() => $$('tag-suggestion').length === 2);
    expect($$('tag-suggestion').map((s) => s.textContent)).toEqual(['#reading2', '#ideas1']);
    input.value = 'id';
    input.dispatchEvent(new InputEvent('input', { bubbles: true }));
    await until(() => $$('tag-suggestion').length === 1);
    $$('tag-suggestion')[0]!.dispatchEvent(new MouseEvent('mousedown', { bubbles: true }));
    await until(async () => (await fake.api.getNote(id)).tags.join() === 'work,ideas');
    input.value = '#Trips';
    input.dispatchEvent(new InputEvent('input', { bubbles: true }));
    input.dispatchEvent(new KeyboardEvent('keydown', { key: ',', bubbles: true }));
    await until(async () => (await fake.api.getNote(id)).tags.join() === 'work,ideas,Trips');
    $$('tag-remove')[0]!.click();
    await until(async () => (await fake.api.getNote(id)).tags.join() === 'ideas,Trips');
    expect($$('tag-chip').map((c) => c.getAttribute('data-tag'))).toEqual(['ideas', 'Trips']);
  });
});
