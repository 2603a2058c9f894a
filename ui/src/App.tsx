import { createEffect, createSignal, Match, onCleanup, onMount, Show, Switch } from 'solid-js';
import type { Api, Lock } from './api/types';
import { ConflictPane } from './components/ConflictPane';
import { Dialog } from './components/Dialog';
import { LockScreen } from './components/LockScreen';
import { ShortcutTable } from './components/Help';
import { IconNote, IconPlus, IconSearch, IconSettings, IconTrash } from './components/icons';
import { NoteList } from './components/NoteList';
import { NotePane } from './components/NotePane';
import { Sidebar } from './components/Sidebar';
import { type NotebookApi, notebookQuery } from './api/notebooks';
import { preloadEditor } from './components/editor/LazyEditor';
import { SettingsDialog } from './components/Settings';
import { StatusBar } from './components/StatusBar';
import { SyncPanel } from './components/SyncPanel';
import { Toasts } from './components/Toasts';
import { HistoryPanel } from './components/HistoryPanel';
import { TrashView } from './components/TrashView';
import type { HistoryApi } from './api/history';
import { dispatchShortcut, isMacPlatform } from './lib/shortcuts';
import { applyTheme, cacheTheme } from './lib/theme';
import { AppProvider, useApp } from './state/context';

/**
 * Asks the shell whether the store is open first: with no OS keyring, or a
 * keyring that cannot be reached, nothing else works until the lock screen
 * has done its part.
 */
export function App(props: { api: Api }) {
  const [lock, setLock] = createSignal<Lock | null>(null);
  onMount(() => {
    props.api.appInfo().then(
      (info) => setLock(info.lock),
      // A shell without app_info (or a fake) is open.
      () => setLock('open'),
    );
  });
  return (
    <Switch fallback={<div class="app-loading" aria-busy="true" data-testid="app-loading" />}>
      <Match when={lock() === 'open'}>
        <AppProvider api={props.api}>
          <Workspace notebooks={props.api.notebooks} history={props.api.history} />
        </AppProvider>
      </Match>
      <Match when={lock() !== null && lock() !== 'open' && lock()} keyed>
        {(l) => <LockScreen api={props.api} lock={l as Exclude<Lock, 'open'>} onOpen={(info) => setLock(info.lock)} />}
      </Match>
    </Switch>
  );
}

function Workspace(props: { notebooks?: NotebookApi; history?: HistoryApi }) {
  const { ui, notes, editor, conflicts, sync, account, monitor, init, api } = useApp();
  // The history panel (the note and its text now) and the Trash view.
  const [historyOf, setHistoryOf] = createSignal<{ id: string; body: string } | null>(null);
  const [trashOpen, setTrashOpen] = createSignal(false);
  async function openHistory(id: string) {
    try {
      await editor.flush(id);
      const note = await api.getNote(id);
      setHistoryOf({ id, body: note.body });
    } catch (e) {
      ui.toastError(e);
    }
  }
  // The chosen notebook and the search that shows it; typing another search
  // lets go of it.
  const [notebook, setNotebook] = createSignal<{ id: string; query: string } | null>(null);
  createEffect(() => {
    const nb = notebook();
    if (nb && !notes.query().startsWith(nb.query.trim())) setNotebook(null);
  });
  const isMac = isMacPlatform(navigator.platform || navigator.userAgent);
  const mod = isMac ? '⌘' : 'Ctrl+';
  let search!: HTMLInputElement;
  let title: HTMLInputElement | undefined;
  let togglePreview: (() => void) | undefined;

  // Theme: the setting, or the system's when it says "system".
  const media = window.matchMedia?.('(prefers-color-scheme: dark)');
  const [prefersDark, setPrefersDark] = createSignal(media?.matches ?? false);
  const onMedia = (e: MediaQueryListEvent) => setPrefersDark(e.matches);
  media?.addEventListener?.('change', onMedia);
  onCleanup(() => media?.removeEventListener?.('change', onMedia));
  createEffect(() => {
    // Until the core answers, the cached theme main.tsx painted stays.
    const t = account.loadedSettings()?.theme;
    if (t === undefined) return;
    applyTheme(document.documentElement, t, prefersDark());
    cacheTheme(globalThis.localStorage, t);
  });

  async function newNote() {
    const n = await editor.create();
    if (n) queueMicrotask(() => title?.focus());
  }

  function onKey(e: KeyboardEvent) {
    const target = e.target as HTMLElement | null;
    const inEditor = !!target?.closest?.('.cm-editor');
    const handled = dispatchShortcut(e, { isMac, inEditor }, {
      new_note: () => void newNote(),
      focus_search: () => {
        search.focus();
        search.select();
      },
      sync_now: () => void sync.syncNow(),
      toggle_preview: () => (editor.current() ? togglePreview?.() : false),
      help: () => ui.setHelpOpen(true),
      close: () => {
        if (historyOf()) setHistoryOf(null);
        else if (trashOpen()) setTrashOpen(false);
        else if (ui.networkOpen()) ui.setNetworkOpen(false);
        else if (ui.helpOpen()) ui.setHelpOpen(false);
        else if (monitor.confirming() !== null) monitor.cancelDiscard();
        else if (monitor.open()) monitor.setOpen(false);
        else if (ui.settingsOpen()) ui.setSettingsOpen(false);
        else if (conflicts.screen()) conflicts.close();
        else if (target === search && search.value) notes.setQuery('');
        else return false;
        return true;
      },
    });
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  onMount(() => {
    window.addEventListener('keydown', onKey, true);
    // The list first; then the editor's code, before a note is opened.
    void init().finally(() => setTimeout(preloadEditor, 0));
  });
  onCleanup(() => window.removeEventListener('keydown', onKey, true));

  return (
    <div class="app" classList={{ 'has-note': !!editor.selectedId() }} data-testid="app">
      <aside class="sidebar" aria-label="Notes">
        <header class="sidebar-head">
          <span class="brand">Outpost</span>
          <div class="sidebar-actions">
            <button
              type="button"
              class="icon-btn"
              aria-label="Settings"
              title="Settings"
              data-testid="settings-button"
              onClick={() => ui.setSettingsOpen(true)}
            >
              <IconSettings />
            </button>
            <Show when={props.history}>
              <button
                type="button"
                class="icon-btn"
                aria-label="Trash"
                title="Trash"
                data-testid="trash-button"
                onClick={() => setTrashOpen(true)}
              >
                <IconTrash />
              </button>
            </Show>
            <button
              type="button"
              class="icon-btn"
              aria-label="New note"
              title={`New note (${mod}N)`}
              data-testid="new-note"
              onClick={() => void newNote()}
            >
              <IconPlus />
            </button>
          </div>
        </header>
        <Show when={props.notebooks} keyed>
          {(api) => (
            <Sidebar
              api={api}
              selected={notebook()?.id ?? null}
              onSelect={(nb) => {
                const query = nb ? notebookQuery(nb) : '';
                notes.setQuery(query);
                setNotebook(nb ? { id: nb.id, query } : null);
              }}
              onMoved={() => void notes.reload()}
              onError={(e) => ui.toastError(e)}
            />
          )}
        </Show>
        <div class="search-box">
          <IconSearch />
          <input
            ref={search}
            type="search"
            placeholder="Search"
            aria-label="Search notes"
            aria-keyshortcuts={isMac ? 'Meta+K' : 'Control+K'}
            data-testid="search-input"
            value={notes.query()}
            onInput={(e) => notes.setQuery(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'ArrowDown') {
                e.preventDefault();
                document.querySelector<HTMLElement>('[data-testid="note-list"]')?.focus();
              }
            }}
          />
          <kbd class="search-hint" aria-hidden="true">
            {mod}K
          </kbd>
        </div>
        <NoteList
          items={notes.items()}
          selectedId={editor.selectedId()}
          now={ui.now()}
          loading={notes.loading()}
          query={notes.resultQuery()}
          onOpen={(id) => void editor.open(id)}
          onNew={() => void newNote()}
          newKeys={`${mod}N`}
          sort={notes.sort()}
          onSort={(key) => void notes.setSort(key)}
        />
      </aside>

      <main class="main">
        <Switch
          fallback={
            <NotePane
              titleRef={(el) => (title = el)}
              previewToggleRef={(fn) => (togglePreview = fn)}
              onHistory={props.history ? (id) => void openHistory(id) : undefined}
            />
          }
        >
          <Match when={conflicts.screen()} keyed>
            {(screen) => <ConflictPane screen={screen} />}
          </Match>
          <Match when={!editor.selectedId()}>
            <div class="main-empty" data-testid="main-empty">
              <IconNote />
              <Show
                when={notes.items().length > 0 || notes.loading()}
                fallback={
                  <>
                    <p class="main-empty-title">No notes yet</p>
                    <p>
                      Press <kbd>{mod}N</kbd> to write your first note.
                    </p>
                  </>
                }
              >
                <p class="main-empty-title">No note open</p>
                <p>
                  Pick one from the list, or press <kbd>{mod}N</kbd> for a new one.
                </p>
              </Show>
            </div>
          </Match>
          <Match when={editor.loading() && !editor.current()}>
            <div class="main-empty" aria-busy="true">
              <p class="muted">Opening…</p>
            </div>
          </Match>
        </Switch>
      </main>

      <StatusBar syncKeys={`${mod}S`} />

      <Show when={ui.settingsOpen()}>
        <SettingsDialog isMac={isMac} />
      </Show>
      <Show when={monitor.open()}>
        <SyncPanel />
      </Show>
      <Show when={ui.helpOpen()}>
        <Dialog title="Keyboard shortcuts" testid="help" onClose={() => ui.setHelpOpen(false)}>
          <ShortcutTable isMac={isMac} />
        </Dialog>
      </Show>
      <Show when={props.history && historyOf()} keyed>
        {(h) => (
          <Dialog title="History" testid="history" wide onClose={() => setHistoryOf(null)}>
            <HistoryPanel
              api={props.history!}
              noteId={h.id}
              currentBody={h.body}
              now={ui.now()}
              onRestored={(note) => {
                setHistoryOf({ id: note.id, body: note.body });
                notes.upsert(note);
                void editor.reread(note.id);
                ui.toast('Version restored. It is the newest version now and syncs like any edit.');
              }}
              onError={(e) => ui.toastError(e)}
            />
          </Dialog>
        )}
      </Show>
      <Show when={props.history && trashOpen()}>
        <Dialog title="Trash" testid="trash" wide onClose={() => setTrashOpen(false)}>
          <TrashView
            api={props.history!}
            now={ui.now()}
            onRestored={(note) => {
              notes.upsert(note);
              ui.toast(`“${note.title || 'Untitled'}” is back from the trash.`);
            }}
            onDeleted={(n) => ui.toast(n === 1 ? 'Deleted for good.' : `${n} notes deleted for good.`)}
            onError={(e) => ui.toastError(e)}
          />
        </Dialog>
      </Show>
      <Toasts />
    </div>
  );
}
