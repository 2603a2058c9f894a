// Attached files over IPC: adding pasted or dropped bytes to a note, a
// note's files, the counts waiting to move (status bar), saving one to a
// place the native picker returned. Images are not read through here: the
// preview loads them from the shell's `outpost-file` protocol ([`fileUrl`]).
import { commands, type FileProgress as GenFileProgress, type NoteFile as GenNoteFile } from '../bindings';
import { ApiError, toApiError } from './errors';

/** The most bytes one file may have (the core refuses more, nothing written). */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;

export interface NoteFile {
  /** 64 hex digits. */
  id: string;
  name: string;
  mime: string;
  size: number;
  /** `upload`, `synced`, `remote` (on the server only) or `removing`. */
  state: string;
  /** Every chunk is on this device. */
  local: boolean;
  chunk_count: number;
  sent_chunks: number;
  /** The Markdown that shows it in a note. */
  reference: string;
}

export interface FileProgress {
  upload_files: number;
  upload_bytes: number;
  download_files: number;
  download_bytes: number;
  cached_bytes: number;
}

export interface FilesApi {
  /** Attach bytes to a note; the note's text is unchanged (insert `reference`). Code `too_large` over 100 MiB. */
  addFile(noteId: string, name: string, bytes: Uint8Array): Promise<NoteFile>;
  noteFiles(noteId: string): Promise<NoteFile[]>;
  fileInfo(id: string): Promise<NoteFile>;
  fileCounts(): Promise<FileProgress>;
  getKeepAllFiles(): Promise<boolean>;
  setKeepAllFiles(keep: boolean): Promise<void>;
  /** The native save picker; null when cancelled. `saveFile` takes only a path it returned. */
  pickSavePath(name: string): Promise<string | null>;
  /** Bytes written. Code `file_not_downloaded`: asked for, try again once it arrived. */
  saveFile(id: string, path: string): Promise<number>;
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

/** The limit, checked before the bytes are even read. */
export function checkFileSize(size: number): void {
  if (size > MAX_FILE_BYTES) {
    throw new ApiError(
      'too_large',
      `The file is ${formatBytes(size)}; a file can be at most 100 MiB. Nothing was added.`,
    );
  }
}

export const filesApi: FilesApi = {
  addFile: async (noteId, name, bytes) => {
    checkFileSize(bytes.length);
    return run(commands.addFile(noteId, name, Array.from(bytes)));
  },
  noteFiles: (noteId) => run(commands.noteFiles(noteId)),
  fileInfo: (id) => run(commands.fileInfo(id)),
  fileCounts: () => run(commands.fileCounts()),
  getKeepAllFiles: () => run(commands.getKeepAllFiles()),
  setKeepAllFiles: async (keep) => {
    await run(commands.setKeepAllFiles(keep));
  },
  pickSavePath: (name) => run(commands.pickSavePath(name)),
  saveFile: (id, path) => run(commands.saveFile(id, path)),
};

/** `tsc` fails here if the Rust side drifts from these types. */
type Fits<A extends B, B> = A;
export type FilesContractChecks = [Fits<GenNoteFile, NoteFile>, Fits<GenFileProgress, FileProgress>];

export const FILE_ID = /^[0-9a-f]{64}$/;

/**
 * Where the preview loads file `id` from: the shell's `outpost-file`
 * protocol, which WebKitGTK and WKWebView reach as
 * `outpost-file://localhost/ID` and WebView2 (Windows) as
 * `http://outpost-file.localhost/ID`.
 */
export function fileUrl(id: string, windows = isWindows()): string {
  return windows ? `http://outpost-file.localhost/${id}` : `outpost-file://localhost/${id}`;
}

function isWindows(): boolean {
  return typeof navigator !== 'undefined' && /Windows/i.test(navigator.userAgent);
}

/** `1.5 MB`-style sizes for people (powers of 1024, as the limit is said). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
