// Pasting or dropping files into the editor: each file is checked against
// the limit, read, attached to the note by the core (which leaves the
// note's text alone), and its reference inserted where the paste or drop
// landed, as one edit the editor saves like typing. So the note never
// changes under the editor.
import { checkFileSize, type FilesApi, type NoteFile } from '../api/files';

/** The edit that puts `refs` at `pos` of `text`, each a paragraph of its own. */
export function referenceEdit(text: string, pos: number, refs: string[]): { from: number; insert: string } {
  const from = Math.max(0, Math.min(pos, text.length));
  const head = text.slice(0, from);
  const before = head === '' || head.endsWith('\n\n') ? '' : head.endsWith('\n') ? '\n' : '\n\n';
  const tail = text.slice(from);
  const after = tail === '' || tail.startsWith('\n\n') ? '' : tail.startsWith('\n') ? '\n' : '\n\n';
  return { from, insert: `${before}${refs.join('\n\n')}${after}` };
}

/** A file's bytes (`Blob.arrayBuffer`, or a FileReader where it is missing). */
export function readBytes(file: Blob): Promise<Uint8Array> {
  if (typeof file.arrayBuffer === 'function') return file.arrayBuffer().then((b) => new Uint8Array(b));
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(new Uint8Array(r.result as ArrayBuffer));
    r.onerror = () => reject(r.error ?? new Error('the file could not be read'));
    r.readAsArrayBuffer(file);
  });
}

export interface AttachTarget {
  text(): string;
  replace(from: number, to: number, insert: string): void;
}

/**
 * Attach `files` to note `noteId` and insert their references at `pos`.
 * A file over the limit or refused by the core is reported through
 * `onError` and left out; the others still go in. The files attached.
 */
export async function attachFiles(
  api: FilesApi,
  noteId: string,
  files: File[],
  pos: number,
  target: AttachTarget,
  onError: (e: unknown) => void,
): Promise<NoteFile[]> {
  const added: NoteFile[] = [];
  for (const file of files) {
    try {
      checkFileSize(file.size);
      const bytes = await readBytes(file);
      added.push(await api.addFile(noteId, file.name || 'pasted', bytes));
    } catch (e) {
      onError(e);
    }
  }
  if (added.length > 0) {
    const edit = referenceEdit(
      target.text(),
      pos,
      added.map((f) => f.reference),
    );
    target.replace(edit.from, edit.from, edit.insert);
  }
  return added;
}
