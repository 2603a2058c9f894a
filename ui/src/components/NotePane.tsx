import { createEffect, createMemo, createSignal, ErrorBoundary, For, lazy, Match, on, onCleanup, Show, Suspense, Switch, untrack } from 'solid-js';
import type { Note, Strategy } from '../api/types';
import type { SaveState } from '../lib/autosave';
import { toggleTask } from '../lib/links';
import { attachFiles } from '../lib/attach';
import type { NoteFile } from '../api/files';
import { fullTime, relativeTime } from '../lib/time';
import { type Counts, countLabel, countWords } from '../lib/wordcount';
import { useApp } from '../state/context';
import { Badge } from './Badge';
import { Dialog } from './Dialog';
import { TagEditor } from './TagEditor';
import { Editor, type EditorHandle } from './editor/LazyEditor';
import { IconBack, IconEye, IconMore, IconPencil, IconPin, IconWarn } from './icons';

// markdown-it and DOMPurify load with the first preview, not at start-up.
const Preview = lazy(() => import('./Preview'));

export const STRATEGIES: { value: Strategy; label: string; hint: string }[] = [
  { value: 'auto_merge', label: 'Auto-merge', hint: 'Merge edits; ask only when they overlap.' },
  { value: 'last_writer_wins', label: 'Last writer wins', hint: 'The latest edit wins whole; the other is kept in history.' },
  { value: 'always_ask', label: 'Always ask', hint: 'Ask me about every concurrent edit.' },
];

export function saveLabel(s: SaveState): string {
  switch (s) {
    case 'saved':
      return 'Saved';
    case 'dirty':
    case 'saving':
      return 'Saving…';
    case 'error':
      return 'Not saved';
  }
}

export interface NotePaneProps {
  editorRef?: (h: EditorHandle) => void;
  titleRef: (el: HTMLInputElement) => void;
  /** Hands the app the preview toggle (Ctrl+E). */
  previewToggleRef: (toggle: () => void) => void;
  /** Open the note's history (absent: no History item). */
  onHistory?: (id: string) => void;
}

export function NotePane(props: NotePaneProps) {
  const { ui, editor, conflicts, api } = useApp();
  // A link the user clicked that needs a yes first: a web or mail link, or
  // a `[[Title]]` no note has (offer to create it).
  const [asking, setAsking] = createSignal<{ kind: 'external'; url: string } | { kind: 'missing'; title: string } | null>(null);
  const [counts, setCounts] = createSignal<Counts>({ words: 0, characters: 0 });
  // Counting a large note on every key would cost typing time: after a pause.
  let countTimer: ReturnType<typeof setTimeout> | undefined;
  function countLater(read: () => string) {
    clearTimeout(countTimer);
    countTimer = setTimeout(() => setCounts(countWords(read())), 250);
  }
  onCleanup(() => clearTimeout(countTimer));

  async function followNoteLink(title: string) {
    try {
      if ((await editor.openTitle(title)) === 'missing') setAsking({ kind: 'missing', title });
    } catch (e) {
      ui.toastError(e);
    }
  }

  function tickTask(line: number) {
    const text = cm?.text() ?? previewText();
    const edit = toggleTask(text, line);
    if (!edit || !cm) return;
    cm.replace(edit.from, edit.to, edit.insert);
    setPreviewText(cm.text());
  }
  let cm: EditorHandle | undefined;
  // Attached files: pasted or dropped into the editor, shown in the preview.
  const [noteFiles, setNoteFiles] = createSignal<NoteFile[]>([]);
  async function refreshFiles(noteId: string) {
    if (!api.files) return;
    try {
      setNoteFiles(await api.files.noteFiles(noteId));
    } catch {
      setNoteFiles([]);
    }
  }
  function onFiles(noteId: string, files: File[], pos: number) {
    const filesApi = api.files;
    if (!filesApi || !cm) return;
    const target = cm;
    void attachFiles(filesApi, noteId, files, pos, target, (e) => ui.toastError(e)).then((added) => {
      if (added.length > 0) void refreshFiles(noteId);
    });
  }
  async function saveAttached(id: string, name: string) {
    const filesApi = api.files;
    if (!filesApi) return;
    try {
      const path = await filesApi.pickSavePath(name);
      if (path === null) return;
      await filesApi.saveFile(id, path);
      ui.toast(`Saved ${name}.`);
    } catch (e) {
      ui.toastError(e);
    }
  }
  const [menuOpen, setMenuOpen] = createSignal(false);
  const [confirmDelete, setConfirmDelete] = createSignal(false);
  // Text the preview shows: read from the editor when the preview opens.
  const [previewText, setPreviewText] = createSignal('');

  const cur = () => editor.current();
  const preview = () => {
    const c = cur();
    return !!c && editor.isPreview(c.note.id);
  };

  function togglePreview() {
    const c = cur();
    if (!c) return;
    if (!preview()) setPreviewText(cm?.text() ?? c.note.body);
    editor.togglePreview(c.note.id);
    if (preview()) queueMicrotask(() => cm?.focus());
  }

  props.previewToggleRef(togglePreview);
  // The note's files, for the preview's cards, whenever it opens.
  createEffect(() => {
    const c = cur();
    if (c && preview()) void refreshFiles(c.note.id);
  });

  const closeMenu = (e: MouseEvent) => {
    if (!(e.target as HTMLElement).closest('.note-menu')) {
      setMenuOpen(false);
      setConfirmDelete(false);
    }
  };
  document.addEventListener('mousedown', closeMenu);
  onCleanup(() => document.removeEventListener('mousedown', closeMenu));

  return (
    <Show when={cur()?.note.id} keyed>
      {(noteId) => {
        // Re-rendered only for another note; saves update `current` in place.
        const note = (): Note | undefined => editor.current()?.note;
        const version = () => editor.current()?.version ?? 0;
        // The title field is set when the note loads, never from a save's
        // echo (which may be behind what is typed).
        const loadedTitle = createMemo(on(version, () => untrack(() => note()?.title ?? '')));
        const loadedBody = () => untrack(() => note()?.body ?? '');
        createEffect(
          on(version, () => {
            setPreviewText(loadedBody());
            setCounts(countWords(loadedBody()));
          }),
        );
        return (
        <section class="note-pane" aria-label="Note" data-testid="note-pane" data-note-id={noteId}>
          <header class="note-toolbar">
            <button
              type="button"
              class="icon-btn only-narrow"
              aria-label="Back to notes"
              onClick={() => void editor.open(null)}
            >
              <IconBack />
            </button>
            <div class="note-toolbar-left">
              <span
                class="save-state"
                classList={{ error: editor.saveState() === 'error', busy: editor.saveState() !== 'saved' && editor.saveState() !== 'error' }}
                data-testid="save-state"
                data-state={editor.saveState()}
                role="status"
                title={editor.saveError() ?? ''}
              >
                {saveLabel(editor.saveState())}
              </span>
              <span class="toolbar-sep" aria-hidden="true">·</span>
              <span class="edited" title={fullTime(note()?.updated_at ?? 0)}>
                Edited {relativeTime(note()?.updated_at ?? 0, ui.now())}
              </span>
              <Badge sync={note()?.sync ?? 'pending'} pill />
            </div>
            <div class="note-toolbar-right">
              <button
                type="button"
                class="icon-btn"
                classList={{ on: note()?.pinned ?? false }}
                aria-pressed={note()?.pinned ?? false}
                aria-label={note()?.pinned ? 'Unpin note' : 'Pin note'}
                title={note()?.pinned ? 'Unpin' : 'Pin to top'}
                data-testid="pin-toggle"
                onClick={() => void editor.setPinned(noteId, !(note()?.pinned ?? false))}
              >
                <IconPin filled={note()?.pinned ?? false} />
              </button>
              <button
                type="button"
                class="icon-btn"
                aria-pressed={preview()}
                aria-label={preview() ? 'Edit (show the Markdown)' : 'Preview'}
                title={preview() ? 'Edit' : 'Preview'}
                data-testid="preview-toggle"
                onClick={togglePreview}
              >
                <Show when={preview()} fallback={<IconEye />}>
                  <IconPencil />
                </Show>
              </button>
              <div
                class="note-menu"
                onKeyDown={(e) => {
                  if (e.key === 'Escape' && menuOpen()) {
                    e.stopPropagation();
                    setMenuOpen(false);
                    setConfirmDelete(false);
                  }
                }}
              >
                <button
                  type="button"
                  class="icon-btn"
                  aria-haspopup="menu"
                  aria-expanded={menuOpen()}
                  aria-label="Note menu"
                  data-testid="note-menu"
                  onClick={() => setMenuOpen(!menuOpen())}
                >
                  <IconMore />
                </button>
                <Show when={menuOpen()}>
                  <div class="menu" role="menu" aria-label="Note">
                    <div class="menu-label" id="note-strategy-label">
                      Conflicts in this note
                    </div>
                    <div role="group" aria-labelledby="note-strategy-label">
                      <For each={[{ value: null, label: `Follow app setting`, hint: '' }, ...STRATEGIES]}>
                        {(s) => (
                          <button
                            type="button"
                            role="menuitemradio"
                            aria-checked={editor.strategy() === s.value}
                            class="menu-item"
                            data-testid={`note-strategy-${s.value ?? 'app'}`}
                            title={s.hint}
                            onClick={() => {
                              void editor.setStrategyForNote(noteId, s.value as Strategy | null);
                              setMenuOpen(false);
                            }}
                          >
                            <span class="check" aria-hidden="true">
                              {editor.strategy() === s.value ? '✓' : ''}
                            </span>
                            {s.label}
                          </button>
                        )}
                      </For>
                    </div>
                    <div class="menu-sep" role="separator" />
                    <Show when={props.onHistory} keyed>
                      {(onHistory) => (
                        <button
                          type="button"
                          role="menuitem"
                          class="menu-item"
                          data-testid="note-history"
                          onClick={() => {
                            setMenuOpen(false);
                            onHistory(noteId);
                          }}
                        >
                          <span class="check" aria-hidden="true" />
                          History…
                        </button>
                      )}
                    </Show>
                    <Show
                      when={confirmDelete()}
                      fallback={
                        <button
                          type="button"
                          role="menuitem"
                          class="menu-item danger"
                          data-testid="note-delete"
                          onClick={() => setConfirmDelete(true)}
                        >
                          <span class="check" aria-hidden="true" />
                          Delete note…
                        </button>
                      }
                    >
                      <div class="menu-confirm">
                        <p>Move this note to the trash on all your devices? It can be restored from the Trash.</p>
                        <div class="row">
                          <button type="button" class="btn btn-sm" onClick={() => setConfirmDelete(false)}>
                            Cancel
                          </button>
                          <button
                            type="button"
                            class="btn btn-sm btn-danger"
                            data-testid="note-delete-confirm"
                            onClick={() => {
                              setMenuOpen(false);
                              setConfirmDelete(false);
                              void editor.remove(noteId);
                            }}
                          >
                            Delete
                          </button>
                        </div>
                      </div>
                    </Show>
                  </div>
                </Show>
              </div>
            </div>
          </header>

          <Switch>
            <Match when={editor.saveState() === 'error'}>
              <div class="banner banner-error" role="alert" data-testid="save-error">
                <IconWarn />
                <span>
                  Not saved: {editor.saveError()} Your text stays here and is saved again with your next edit.
                </span>
              </div>
            </Match>
            <Match when={note()?.sync === 'conflict'}>
              <div class="banner banner-conflict" role="status" data-testid="conflict-banner">
                <IconWarn />
                <span>
                  This note was changed on two devices. <strong>Nothing has been lost</strong>: both versions are kept.
                </span>
                <button
                  type="button"
                  class="btn btn-sm"
                  data-testid="conflict-open"
                  onClick={() => void conflicts.openForNote(noteId)}
                >
                  Resolve…
                </button>
              </div>
            </Match>
            <Match when={note()?.sync === 'failed'}>
              <div class="banner banner-error" role="status" data-testid="failed-banner">
                <IconWarn />
                <span>
                  The server did not accept the last change to this note. It is kept on this device; the status bar
                  says why.
                </span>
              </div>
            </Match>
          </Switch>

          <div class="note-body">
            <input
              ref={props.titleRef}
              class="title-input"
              data-testid="note-title"
              aria-label="Title"
              placeholder="Untitled"
              value={loadedTitle()}
              maxLength={300}
              onInput={(e) => editor.editTitle(noteId, e.currentTarget.value)}
              onBlur={() => void editor.flush(noteId)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || (e.key === 'ArrowDown' && !e.shiftKey)) {
                  e.preventDefault();
                  cm?.focus();
                }
              }}
            />
            <TagEditor
              tags={note()?.tags ?? []}
              onChange={(tags) => void editor.setTags(noteId, tags)}
              loadKnown={() => api.tagCounts()}
            />
            <Show when={preview()}>
              <ErrorBoundary fallback={<div class="preview muted">The preview could not load. Your text is unchanged.</div>}>
                <Suspense fallback={<div class="preview muted">Rendering…</div>}>
                  <Preview
                    source={previewText()}
                    onNoteLink={(title) => void followNoteLink(title)}
                    onExternalLink={(url) => setAsking({ kind: 'external', url })}
                    onToggleTask={tickTask}
                    onFile={(id, name) => void saveAttached(id, name)}
                    files={noteFiles()}
                  />
                </Suspense>
              </ErrorBoundary>
            </Show>
            <div class="editor-wrap" classList={{ hidden: preview() }}>
              <Suspense fallback={<div class="cm-host" aria-busy="true" data-testid="editor-loading" />}>
                <Editor
                  docKey={`${noteId}:${version()}`}
                  doc={loadedBody()}
                  label="Note text (Markdown)"
                  placeholder="Start writing…"
                  markers={untrack(() => note()?.sync === 'conflict')}
                  onChange={(read) => {
                    editor.editBody(noteId, read);
                    countLater(read);
                  }}
                  onBlur={() => void editor.flush(noteId)}
                  onFiles={(files, pos) => onFiles(noteId, files, pos)}
                  ref={(h) => {
                    cm = h;
                    props.editorRef?.(h);
                  }}
                />
              </Suspense>
            </div>
          </div>
          <footer class="note-footer">
            <span class="word-count" data-testid="word-count" data-words={counts().words} data-characters={counts().characters}>
              {countLabel(counts())}
            </span>
          </footer>
          <Show when={asking()} keyed>
            {(a) => (
              <Dialog
                title={a.kind === 'external' ? 'Open this link?' : 'No note has this title'}
                testid="link-dialog"
                onClose={() => setAsking(null)}
              >
                <Show
                  when={a.kind === 'external' && a}
                  fallback={
                    <p>
                      No note is titled <strong>“{a.kind === 'missing' ? a.title : ''}”</strong>. Create it?
                    </p>
                  }
                >
                  {(ext) => (
                    <p>
                      This opens <span class="mono link-url" data-testid="link-url">{ext().url}</span> in your browser (or mail app),
                      outside Outpost.
                    </p>
                  )}
                </Show>
                <div class="row dialog-actions">
                  <button type="button" class="btn" data-testid="link-cancel" onClick={() => setAsking(null)}>
                    Cancel
                  </button>
                  <button
                    type="button"
                    class="btn btn-primary"
                    data-testid="link-confirm"
                    autofocus
                    onClick={() => {
                      setAsking(null);
                      if (a.kind === 'external') void api.openExternal(a.url).catch((e) => ui.toastError(e));
                      else void editor.create(a.title);
                    }}
                  >
                    {a.kind === 'external' ? 'Open in browser' : 'Create note'}
                  </button>
                </div>
              </Dialog>
            )}
          </Show>
        </section>
        );
      }}
    </Show>
  );
}
