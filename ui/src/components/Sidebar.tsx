// The notebook sidebar: "All notes" and the notebook tree with note counts.
// Choosing a notebook narrows the list to it; a note row dropped on a
// notebook moves the note there; a notebook is made (inside the chosen
// one), renamed (double-click) or deleted (its notes move up) in place.
import { createSignal, For, onMount, Show } from 'solid-js';
import { NOTE_DRAG_TYPE, type NotebookApi, type NotebookView } from '../api/notebooks';

export interface SidebarProps {
  api: NotebookApi;
  /** The chosen notebook's id; null: all notes. */
  selected: string | null;
  onSelect: (nb: NotebookView | null) => void;
  /** A note was moved by a drop (the list may want to read it again). */
  onMoved?: (noteId: string, notebook: NotebookView) => void;
  onError: (e: unknown) => void;
}

export function Sidebar(props: SidebarProps) {
  const [books, setBooks] = createSignal<NotebookView[]>([]);
  const [creating, setCreating] = createSignal(false);
  const [renaming, setRenaming] = createSignal<string | null>(null);
  const [confirming, setConfirming] = createSignal<string | null>(null);
  const [dropTarget, setDropTarget] = createSignal<string | null>(null);

  async function reload(): Promise<void> {
    try {
      setBooks(await props.api.listNotebooks());
    } catch (e) {
      props.onError(e);
    }
  }
  onMount(() => void reload());

  /** Run a change, then read the tree again; errors go to the caller's toasts. */
  async function change(f: () => Promise<unknown>): Promise<boolean> {
    try {
      await f();
      await reload();
      return true;
    } catch (e) {
      props.onError(e);
      return false;
    }
  }

  async function create(name: string) {
    if (!name.trim()) return setCreating(false);
    if (await change(() => props.api.createNotebook(name, props.selected))) setCreating(false);
  }

  async function rename(nb: NotebookView, name: string) {
    if (!name.trim() || name === nb.name) return setRenaming(null);
    if (await change(() => props.api.renameNotebook(nb.id, name))) setRenaming(null);
  }

  async function remove(nb: NotebookView) {
    setConfirming(null);
    if (await change(() => props.api.deleteNotebook(nb.id))) {
      if (props.selected === nb.id) props.onSelect(null);
    }
  }

  async function drop(e: DragEvent, nb: NotebookView) {
    setDropTarget(null);
    const noteId = e.dataTransfer?.getData(NOTE_DRAG_TYPE);
    if (!noteId) return;
    e.preventDefault();
    if (await change(() => props.api.moveNote(noteId, nb.id))) props.onMoved?.(noteId, nb);
  }

  return (
    <nav class="notebooks" aria-label="Notebooks" data-testid="notebooks">
      <div class="notebooks-head">
        <span>Notebooks</span>
        <button
          type="button"
          class="icon-btn sm"
          aria-label="New notebook"
          title={props.selected ? 'New notebook inside this one' : 'New notebook'}
          data-testid="notebook-new"
          onClick={() => setCreating(true)}
        >
          +
        </button>
      </div>
      <ul role="tree" class="notebook-tree">
        <li
          role="treeitem"
          aria-selected={props.selected === null}
          class="notebook-item"
          classList={{ selected: props.selected === null }}
          data-testid="notebook-all"
          onClick={() => props.onSelect(null)}
        >
          All notes
        </li>
        <For each={books()}>
          {(nb) => (
            <li
              role="treeitem"
              aria-level={nb.depth + 1}
              aria-selected={props.selected === nb.id}
              class="notebook-item"
              classList={{ selected: props.selected === nb.id, 'drop-target': dropTarget() === nb.id }}
              style={{ 'padding-left': `${0.5 + nb.depth}rem` }}
              data-testid="notebook-item"
              data-notebook-id={nb.id}
              title={nb.path}
              onClick={() => props.onSelect(nb)}
              onDblClick={() => setRenaming(nb.id)}
              onDragOver={(e) => {
                if (e.dataTransfer?.types.includes(NOTE_DRAG_TYPE)) {
                  e.preventDefault();
                  setDropTarget(nb.id);
                }
              }}
              onDragLeave={() => setDropTarget(null)}
              onDrop={(e) => void drop(e, nb)}
            >
              <Show
                when={renaming() === nb.id}
                fallback={
                  <>
                    <span class="notebook-name" data-testid="notebook-name">
                      {nb.name}
                    </span>
                    <span class="notebook-count" data-testid="notebook-count">
                      {nb.notes}
                    </span>
                    <Show
                      when={confirming() === nb.id}
                      fallback={
                        <button
                          type="button"
                          class="notebook-delete"
                          aria-label={`Delete notebook ${nb.name}`}
                          data-testid="notebook-delete"
                          onClick={(e) => {
                            e.stopPropagation();
                            setConfirming(nb.id);
                          }}
                        >
                          ×
                        </button>
                      }
                    >
                      <button
                        type="button"
                        class="btn btn-sm"
                        title="Its notes move up; no note is deleted"
                        data-testid="notebook-delete-confirm"
                        onClick={(e) => {
                          e.stopPropagation();
                          void remove(nb);
                        }}
                      >
                        Delete
                      </button>
                    </Show>
                  </>
                }
              >
                <NameInput
                  initial={nb.name}
                  label={`New name for ${nb.name}`}
                  onDone={(name) => void rename(nb, name)}
                  onCancel={() => setRenaming(null)}
                />
              </Show>
            </li>
          )}
        </For>
        <Show when={creating()}>
          <li class="notebook-item" data-testid="notebook-create">
            <NameInput initial="" label="Name of the new notebook" onDone={(name) => void create(name)} onCancel={() => setCreating(false)} />
          </li>
        </Show>
      </ul>
    </nav>
  );
}

/** A one-line name field: Enter keeps it, Escape leaves it. */
function NameInput(props: { initial: string; label: string; onDone: (name: string) => void; onCancel: () => void }) {
  let input!: HTMLInputElement;
  onMount(() => {
    input.focus();
    input.select();
  });
  return (
    <input
      ref={input}
      class="notebook-input"
      aria-label={props.label}
      data-testid="notebook-input"
      value={props.initial}
      maxLength={200}
      onClick={(e) => e.stopPropagation()}
      onKeyDown={(e) => {
        e.stopPropagation();
        if (e.key === 'Enter') props.onDone(e.currentTarget.value);
        else if (e.key === 'Escape') props.onCancel();
      }}
    />
  );
}
