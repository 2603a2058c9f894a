// The only module that talks to Tauri. The calls go through the bindings
// the shell generates from Rust (src/bindings.ts, tauri-specta), so a
// command or argument that drifts fails `tsc`; this file turns their
// `{status, data | error}` results into values or thrown `ApiError`s and
// narrows a few fields that Rust types as plain strings.
import { listen } from '@tauri-apps/api/event';
import { getCurrentWindow } from '@tauri-apps/api/window';
import {
  type AccountInfo_Serialize,
  type AccountSession_Serialize as GenAccountSession,
  type PassphraseChangeReport as GenPassphraseChangeReport,
  commands,
  type ConflictView_Serialize,
  type DeviceOverrides_Serialize,
  type IpcError,
  type Note_Serialize,
  type NoteSummary as GenNoteSummary,
  type NotesChangedEvent,
  type OutboxListing_Serialize,
  type Report_Serialize,
  type PolicySettings as GenPolicySettings,
  type RankedHit as GenSearchHit,
  type SyncStatus_Serialize,
  type ImportProgress as GenImportProgress,
  type ImportReport_Serialize as GenImportReport,
  type StartOver as GenStartOver,
  type TagCount as GenTagCount,
} from '../bindings';
import { toApiError } from './errors';
import { notebookApi } from './notebooks';
import { historyApi } from './history';
import { filesApi } from './files';
import type {
  AccountInfo,
  AccountSession,
  Api,
  ConflictKind,
  ConflictView,
  DeviceOverrides,
  ImportProgress,
  ImportReport,
  NetMode,
  Note,
  NoteSummary,
  OutboxListing,
  PassphraseChangeReport,
  PolicySettings,
  SearchHit,
  Settings,
  StartOverReport,
  SyncHistory,
  SyncStatus,
  TagCount,
  Theme,
} from './types';

export * from './types';
export { ApiError, toApiError } from './errors';

type Result<T> = { status: 'ok'; data: T } | { status: 'error'; error: IpcError };

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

/** `drop` is never null in what the core sends; the generated shape allows it. */
function netMode(m: SyncStatus_Serialize['net_mode']): NetMode {
  return m.mode === 'flaky' ? { mode: 'flaky', drop: m.drop ?? 0, latency_ms: m.latency_ms } : m;
}

export function toSyncStatus(s: SyncStatus_Serialize): SyncStatus {
  return { ...s, net_mode: netMode(s.net_mode) };
}

const KINDS: readonly string[] = ['overlap', 'confirm', 'last_writer_wins', 'restored'];
const RESOLUTIONS: readonly string[] = ['mine', 'theirs', 'merged'];

/** Kinds and resolutions are strings in Rust; an unknown kind shows as "Conflict". */
export function toConflictView(c: ConflictView_Serialize): ConflictView {
  return {
    ...c,
    kind: (KINDS.includes(c.kind) ? c.kind : 'overlap') as ConflictKind,
    resolution: c.resolution !== null && RESOLUTIONS.includes(c.resolution) ? (c.resolution as ConflictView['resolution']) : null,
  };
}

function toTheme(t: string): Theme {
  return t === 'light' || t === 'dark' ? t : 'system';
}

/** Longest a window close waits for the last save. */
const CLOSE_FLUSH_LIMIT_MS = 2000;

export const tauriApi: Api = {
  appInfo: () => run(commands.appInfo()),
  unlock: (passphrase) => run(commands.unlock(passphrase)),
  listNotes: () => run(commands.listNotes()),
  noteSummaries: (ids) => run(commands.noteSummaries(ids)),
  searchNotes: (query) => run(commands.searchNotes(query)),
  notebooks: notebookApi,
  history: historyApi,
  files: filesApi,
  getNote: (id) => run(commands.getNote(id)),
  createNote: (draft) => run(commands.createNote(draft)),
  updateNote: (id, patch, base) => run(commands.updateNote(id, patch, base?.hlc ?? null, base?.body ?? null)),
  deleteNote: async (id) => {
    await run(commands.deleteNote(id));
  },
  listConflicts: async () => (await run(commands.listConflicts())).map(toConflictView),
  resolveConflict: (id, resolution) => run(commands.resolveConflict(id, resolution)),
  getConflictStrategy: (noteId) => run(commands.getConflictStrategy(noteId)),
  setConflictStrategy: async (noteId, strategy) => {
    await run(commands.setConflictStrategy(noteId, strategy));
  },
  syncStatus: async () => toSyncStatus(await run(commands.syncStatus())),
  syncNow: async () => {
    await run(commands.syncNow());
  },
  approveMassDelete: async () => {
    await run(commands.approveMassDelete());
  },
  setNetwork: async (mode) => {
    await run(commands.setNetwork(mode));
  },
  getSyncPolicy: () => run(commands.getSyncPolicy()),
  setSyncPolicy: async (policy) => {
    await run(commands.setSyncPolicy(policy));
  },
  getDeviceSituation: () => run(commands.getDeviceSituation()),
  setDeviceSituation: async (overrides) => {
    await run(commands.setDeviceSituation(overrides));
  },
  syncHistory: () => run(commands.syncHistory()),
  outboxEntries: () => run(commands.outboxEntries()),
  outboxRetry: (seq) => run(commands.outboxRetry(seq)),
  outboxDiscard: (seq) => run(commands.outboxDiscard(seq)),
  accountInfo: () => run(commands.accountInfo()),
  register: ({ serverUrl, username, passphrase }) => run(commands.register(serverUrl, username, passphrase)),
  logIn: ({ serverUrl, username, passphrase, totpCode }) =>
    run(commands.logIn(serverUrl, username, passphrase, totpCode ?? null)),
  logOut: () => run(commands.logOut()),
  listSessions: () => run(commands.listSessions()),
  revokeSession: async (id) => {
    await run(commands.revokeSession(id));
  },
  revokeOtherSessions: () => run(commands.revokeOtherSessions()),
  changePassphrase: (current, next, keep) => run(commands.changePassphrase(current, next, keep)),
  deleteAccount: (username, passphrase) => run(commands.deleteAccount(username, passphrase)),
  noteCreatedTimes: () => run(commands.noteCreatedTimes()),
  tagCounts: () => run(commands.tagCounts()),
  openExternal: async (url) => {
    await run(commands.openExternal(url));
  },
  startOver: () => run(commands.startOver()),
  pickPath: (kind) => run(commands.pickPath(kind)),
  importNotes: (path) => run(commands.importNotes(path)),
  exportNotes: (path) => run(commands.exportNotes(path)),
  onImportProgress: async (cb) => listen<GenImportProgress>('import-progress', (e) => cb(e.payload)),
  getSettings: async (): Promise<Settings> => ({ theme: toTheme((await run(commands.getSettings())).theme) }),
  setSettings: async (settings) => {
    await run(commands.setSettings(settings));
  },
  onSyncStatus: async (cb) => listen<SyncStatus_Serialize>('sync-status', (e) => cb(toSyncStatus(e.payload))),
  onNotesChanged: async (cb) => listen<NotesChangedEvent>('notes-changed', (e) => cb(e.payload.ids, e.payload.all)),
  // With a JS listener on close-requested, Tauri leaves closing to the page:
  // save, then destroy the window (`core:window:allow-destroy`). Should that
  // permission be missing, stop listening so the next click closes natively
  // rather than leave a window that cannot be closed.
  onCloseRequested: async (flush) => {
    const win = getCurrentWindow();
    const unlisten = await win.listen('tauri://close-requested', async () => {
      await Promise.race([flush().catch(() => undefined), new Promise((r) => setTimeout(r, CLOSE_FLUSH_LIMIT_MS))]);
      try {
        await win.destroy();
      } catch {
        unlisten();
        await win.close().catch(() => undefined);
      }
    });
    return unlisten;
  },
};

/**
 * Compile-time checks that what the core sends fits the UI's types: `tsc`
 * fails here if the Rust side drifts from `types.ts`.
 */
type Fits<A extends B, B> = A;
export type ContractChecks = [
  Fits<Note_Serialize, Note>,
  Fits<GenNoteSummary, NoteSummary>,
  Fits<GenSearchHit, SearchHit>,
  Fits<AccountInfo_Serialize, AccountInfo>,
  Fits<Omit<SyncStatus_Serialize, 'net_mode'>, Omit<SyncStatus, 'net_mode'>>,
  Fits<Omit<ConflictView_Serialize, 'kind' | 'resolution'>, Omit<ConflictView, 'kind' | 'resolution'>>,
  Fits<GenPolicySettings, PolicySettings>,
  Fits<DeviceOverrides_Serialize, DeviceOverrides>,
  Fits<Report_Serialize, SyncHistory>,
  Fits<OutboxListing_Serialize, OutboxListing>,
  Fits<GenAccountSession, AccountSession>,
  Fits<GenPassphraseChangeReport, PassphraseChangeReport>,
  Fits<GenTagCount, TagCount>,
  Fits<GenStartOver, StartOverReport>,
  Fits<GenImportReport, ImportReport>,
  Fits<GenImportProgress, ImportProgress>,
];
