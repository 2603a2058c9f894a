// Note history and the trash over IPC, for the history panel and the Trash
// view. Kept apart from `index.ts` (like `notebooks.ts`) so those components
// can be handed this small interface, and a test an in-memory one.
import {
  commands,
  type HistorySettings_Serialize as GenHistorySettings,
  type NoteVersion_Serialize,
  type TrashedNote as GenTrashedNote,
  type VersionInfo as GenVersionInfo,
} from '../bindings';
import { toApiError } from './errors';
import type { Note } from './types';

/** Why a version is in a note's history. */
export type VersionWhy = 'edit' | 'merge' | 'remote' | 'restore' | 'lww_loser' | 'merge_input' | 'trash' | 'untrash';

/** One line of a note's history (no content). */
export interface VersionInfo {
  /** Its id: a clock stamp. */
  version: string;
  /** When it was made (ms since the epoch). */
  at: number;
  /** The device that made it (hex). */
  device: string;
  /** Bytes, sealed. */
  size: number;
  why: VersionWhy;
  /** What the note holds now. */
  current: boolean;
}

/** One version, decrypted. */
export interface NoteVersion extends VersionInfo {
  note_id: string;
  title: string;
  body: string;
  tags: string[];
  pinned: boolean;
  trashed_at: number | null;
}

export interface TrashedNote {
  id: string;
  title: string;
  trashed_at: number;
  /** When it is deleted for good unless restored. */
  purge_at: number;
  updated_at: number;
}

export interface HistorySettings {
  coalesce_minutes: number;
  keep_all_days: number;
  daily_until_days: number;
  max_bytes_per_note: number;
  trash_days: number;
}

/** What the history panel and the Trash view ask of the core. */
export interface HistoryApi {
  /** Newest first. */
  noteVersions(id: string): Promise<VersionInfo[]>;
  /** Codes: `version_not_found`, `version_of_another_note`, `purged`. */
  noteVersion(id: string, version: string): Promise<NoteVersion>;
  /** The version's text becomes a new version of the note (synced like an edit). */
  restoreVersion(id: string, version: string): Promise<Note>;
  /** Most recently trashed first. */
  trashList(): Promise<TrashedNote[]>;
  /** Back from the trash (code `not_in_trash` if it is not there). */
  untrashNote(id: string): Promise<Note>;
  /** Only a note in the trash (code `not_in_trash` otherwise). */
  deleteForGood(id: string): Promise<void>;
  /** Every trashed note deleted for good; how many. */
  emptyTrash(): Promise<number>;
  getHistorySettings(): Promise<HistorySettings>;
  setHistorySettings(s: HistorySettings): Promise<void>;
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

export const historyApi: HistoryApi = {
  noteVersions: (id) => run(commands.noteVersions(id)),
  noteVersion: (id, version) => run(commands.noteVersion(id, version)),
  restoreVersion: (id, version) => run(commands.restoreVersion(id, version)),
  trashList: () => run(commands.trashList()),
  untrashNote: (id) => run(commands.untrashNote(id)),
  deleteForGood: async (id) => {
    await run(commands.deleteForGood(id));
  },
  emptyTrash: () => run(commands.emptyTrash()),
  getHistorySettings: () => run(commands.getHistorySettings()),
  setHistorySettings: async (s) => {
    await run(commands.setHistorySettings(s));
  },
};

/** `tsc` fails here if the Rust side drifts from these types. */
type Fits<A extends B, B> = A;
export type HistoryContractChecks = [
  Fits<GenVersionInfo, VersionInfo>,
  Fits<NoteVersion_Serialize, NoteVersion>,
  Fits<GenTrashedNote, TrashedNote>,
  Fits<GenHistorySettings, HistorySettings>,
];

/** The words a person reads for why a version is there. */
export function whyLabel(why: VersionWhy): string {
  switch (why) {
    case 'edit':
      return 'Edited here';
    case 'merge':
      return 'Merged';
    case 'remote':
      return 'From another device';
    case 'restore':
      return 'Restored';
    case 'lww_loser':
      return 'Lost a conflict (last writer won)';
    case 'merge_input':
      return 'This device’s side of a merge';
    case 'trash':
      return 'Moved to the trash';
    case 'untrash':
      return 'Back from the trash';
  }
}
