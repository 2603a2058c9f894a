// An in-memory notebook store with the core's rules for names, for the
// sidebar's tests: notebooks, which notebook each note is in, and the calls
// made.
import { ApiError } from '../api/errors';
import type { NotebookApi, NotebookView } from '../api/notebooks';

/** Notebooks and which notebook each note is in, with the core's rules for names. */
export function fakeStore() {
  let next = 1;
  const books = new Map<string, { name: string; parent: string | null }>();
  const notes = new Map<string, string | null>([
    ['n1', null],
    ['n2', null],
  ]);
  const path = (id: string): string[] => {
    const b = books.get(id)!;
    return b.parent ? [...path(b.parent), b.name] : [b.name];
  };
  const view = (id: string): NotebookView => {
    const b = books.get(id)!;
    return {
      id,
      name: b.name,
      parent: b.parent,
      depth: path(id).length - 1,
      path: path(id).join('/'),
      notes: [...notes.values()].filter((n) => n === id).length,
    };
  };
  const taken = (name: string, parent: string | null, except?: string) =>
    [...books.entries()].some(([id, b]) => id !== except && b.parent === parent && b.name.toLowerCase() === name.toLowerCase());
  const calls: string[] = [];
  const api: NotebookApi = {
    async listNotebooks() {
      const out: NotebookView[] = [];
      const walk = (parent: string | null) => {
        const kids = [...books.entries()].filter(([, b]) => b.parent === parent).sort((a, b) => a[1].name.localeCompare(b[1].name));
        for (const [id] of kids) {
          out.push(view(id));
          walk(id);
        }
      };
      walk(null);
      return out;
    },
    async createNotebook(name, parent) {
      calls.push(`create ${name} in ${parent}`);
      if (taken(name, parent)) throw new ApiError('notebook_name_taken', `there is already a notebook named "${name}"`);
      const id = `b${next++}`;
      books.set(id, { name, parent });
      return view(id);
    },
    async renameNotebook(id, name) {
      calls.push(`rename ${id} ${name}`);
      books.get(id)!.name = name;
      return view(id);
    },
    async moveNotebook(id, parent) {
      books.get(id)!.parent = parent;
      return view(id);
    },
    async deleteNotebook(id) {
      calls.push(`delete ${id}`);
      const parent = books.get(id)!.parent;
      let notesMoved = 0;
      for (const [n, nb] of notes) if (nb === id) (notes.set(n, parent), notesMoved++);
      for (const b of books.values()) if (b.parent === id) b.parent = parent;
      books.delete(id);
      return { notes_moved: notesMoved, notebooks_moved: 0 };
    },
    async moveNote(noteId, notebook) {
      calls.push(`move ${noteId} to ${notebook}`);
      notes.set(noteId, notebook);
    },
  };
  return { api, books, notes, calls };
}

