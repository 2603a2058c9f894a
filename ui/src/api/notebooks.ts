// Notebooks over IPC, for the sidebar: the tree, its changes and moving a
// note. Kept apart from `index.ts` so the sidebar can be handed this small
// interface (and a test an in-memory one).
import { commands, type Notebook_Serialize, type NotebookDeleted as GenNotebookDeleted } from '../bindings';
import { toApiError } from './errors';

/** A notebook as the sidebar shows it, in tree order. */
export interface NotebookView {
  id: string;
  name: string;
  /** The parent as shown (a cycle made on two devices is broken at one). */
  parent: string | null;
  /** 0 at the top. */
  depth: number;
  /** Names from the top, joined by `/`. */
  path: string;
  /** Live notes directly in it. */
  notes: number;
}

export interface NotebookDeleted {
  notes_moved: number;
  notebooks_moved: number;
}

/** What the sidebar asks of the core. */
export interface NotebookApi {
  listNotebooks(): Promise<NotebookView[]>;
  createNotebook(name: string, parent: string | null): Promise<NotebookView>;
  renameNotebook(id: string, name: string): Promise<NotebookView>;
  /** Refused with code `notebook_cycle` when `parent` is the notebook or inside it. */
  moveNotebook(id: string, parent: string | null): Promise<NotebookView>;
  /** Its notes and notebooks move up to its parent; no note is deleted. */
  deleteNotebook(id: string): Promise<NotebookDeleted>;
  moveNote(noteId: string, notebook: string | null): Promise<void>;
}

type Result<T> = { status: 'ok'; data: T } | { status: 'error'; error: unknown };

async function run<T>(p: Promise<Result<T>>): Promise<T> {
  let r: Result<T>;
  try {
    r = await p;
  } catch (e) {
    throw toApiError(e);
  }
  if (r.status === 'error') throw toApiError(r.error);
  return r.data;
}

export const notebookApi: NotebookApi = {
  listNotebooks: () => run(commands.listNotebooks()),
  createNotebook: (name, parent) => run(commands.createNotebook(name, parent)),
  renameNotebook: (id, name) => run(commands.renameNotebook(id, name)),
  moveNotebook: (id, parent) => run(commands.moveNotebook(id, parent)),
  deleteNotebook: (id) => run(commands.deleteNotebook(id)),
  moveNote: async (noteId, notebook) => {
    await run(commands.moveNote(noteId, notebook));
  },
};

/** `tsc` fails here if the Rust side drifts from these types. */
type Fits<A extends B, B> = A;
export type NotebookContractChecks = [Fits<Notebook_Serialize, NotebookView>, Fits<GenNotebookDeleted, NotebookDeleted>];

/** The drag data type of a note row dragged onto a notebook. */
export const NOTE_DRAG_TYPE = 'application/x-outpost-note';

/**
 * The search that shows a notebook's notes (and those of the notebooks
 * inside it). A name holding `"` cannot be quoted in a query; such a
 * notebook is not found this way.
 */
export function notebookQuery(nb: Pick<NotebookView, 'name'>): string {
  return `notebook:"${nb.name}" `;
}
