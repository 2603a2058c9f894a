// The UI's types for the IPC contract with the Tauri shell: a little
// narrower than the generated `src/bindings.ts` (unions where Rust has
// strings). `index.ts` converts and checks at compile time that the
// generated types fit these; nothing outside `src/api/` sees the bindings.

import type { NotebookApi } from './notebooks';
import type { HistoryApi } from './history';
import type { FilesApi } from './files';

export type SyncBadge = 'synced' | 'pending' | 'failed' | 'conflict';

/** One line of the notes list (titles only). Times are ms since the epoch. */
export interface NoteSummary {
  id: string;
  title: string;
  pinned: boolean;
  updated_at: number;
  sync: SyncBadge;
}

export interface SearchHit extends NoteSummary {
  snippet: string;
  /** What to highlight: `[start, end)` ranges of the title and of the snippet, in UTF-16 units. */
  title_highlights?: [number, number][];
  snippet_highlights?: [number, number][];
}

export interface Note {
  id: string;
  title: string;
  body: string;
  tags: string[];
  pinned: boolean;
  created_at: number;
  updated_at: number;
  hlc: string;
  server_rev: number | null;
  deleted: boolean;
  sync: SyncBadge;
}

export interface NoteDraft {
  title: string;
  body: string;
  tags: string[];
  pinned: boolean;
}

export interface NotePatch {
  title?: string;
  body?: string;
  tags?: string[];
  pinned?: boolean;
}

export type ConflictKind = 'overlap' | 'confirm' | 'last_writer_wins' | 'restored';

export interface VersionView {
  title: string;
  body: string;
  tags: string[];
  pinned: boolean;
  deleted: boolean;
  hlc: string;
}

export interface ConflictView {
  id: number;
  note_id: string;
  kind: ConflictKind;
  opened_at: number;
  resolved_at: number | null;
  resolution: 'mine' | 'theirs' | 'merged' | null;
  base_body: string | null;
  mine: VersionView;
  theirs: VersionView;
}

export type Resolution = { kind: 'mine' } | { kind: 'theirs' } | { kind: 'merged'; body: string };

export type Strategy = 'auto_merge' | 'last_writer_wins' | 'always_ask';

export type NetMode =
  | { mode: 'online' }
  | { mode: 'offline' }
  | { mode: 'flaky'; drop: number; latency_ms: number };

export type Connectivity = 'online' | 'offline' | 'switched_off' | 'unknown';

export type SyncPhase = 'idle' | 'pushing' | 'pulling' | 'waiting_retry' | 'held' | 'stopped';

export interface SyncError {
  code: string;
  message: string;
  at_ms: number;
}

export interface SyncStatus {
  connectivity: Connectivity;
  net_mode: NetMode;
  phase: SyncPhase;
  pending: number;
  failed: number;
  progress: { done: number; total: number } | null;
  last_success_ms: number | null;
  last_error: SyncError | null;
  open_conflicts: number;
  /** When this device last found its server reset and sent its notes again. */
  server_reset_ms: number | null;
  next_retry_ms: number | null;
  updated_ms: number;
  /**
   * Why sync waits in this situation, in words ("low battery: 3 changes
   * wait for charging"), or null when the sync policy holds nothing back.
   */
  deferred: string | null;
}

/** What sync does on a metered network (mobile data, a metered hotspot). */
export type MeteredUse = 'always' | 'small_changes_only' | 'never';

/** The user's sync policy: saved in the store, applied live by the engine. */
export interface PolicySettings {
  metered: MeteredUse;
  pause_on_low_battery: boolean;
}

export type DeviceNetwork = 'none' | 'unmetered' | 'metered';
export type DevicePower = 'charging' | 'battery' | 'low' | 'saver';
export type DeviceApp = 'foreground' | 'background' | 'suspended';

/**
 * The testers' switches over what the OS reports (the device file, as
 * `outpost net metered|power|app` writes it). A missing or null field is
 * "as the OS says".
 */
export interface DeviceOverrides {
  network?: DeviceNetwork | null;
  power?: DevicePower | null;
  app?: DeviceApp | null;
}

/** What woke the engine for a pass. */
export type PassTrigger = 'local_change' | 'poke' | 'timer' | 'network_back' | 'sync_now' | 'retry' | 'start';

export type PassOutcome = 'ok' | 'failed' | 'deferred';

/**
 * One sync pass of the history (`outpost status --history`): plaintext
 * metadata only, never a note's content or title. Times in ms since the epoch.
 */
export interface PassRecord {
  started_at: number;
  duration_ms: number;
  trigger: PassTrigger;
  pushed: number;
  pulled: number;
  bytes_sent: number;
  bytes_received: number;
  outcome: PassOutcome;
  /** A failed pass: the error's stable code (`unreachable`, ...). */
  error_code: string | null;
  /** A deferred pass: why it did not run. */
  reason: string | null;
}

export type EntryState = 'pending' | 'failed';

/** An outbox entry: where it stands, never what it carries. */
export interface OutboxRow {
  /** The entry's number (`outpost outbox retry N`). */
  seq: number;
  note_id: string;
  op_id: string;
  state: EntryState;
  /** The change deletes the note. */
  deleted: boolean;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** An entry someone stopped sending, kept sealed in the store. */
export interface DiscardedRow {
  seq: number;
  note_id: string;
  state: string;
  attempts: number;
  last_error: string | null;
  created_at: number;
  discarded_at: number;
}

export interface DayBytes {
  /** The UTC day's first millisecond. */
  day_start_ms: number;
  sent: number;
  received: number;
}

/** What the history and the outbox say (`outpost_core::monitor::Insights`). */
export interface Insights {
  passes: number;
  ok: number;
  failed: number;
  deferred: number;
  /** ok / (ok + failed); null without any attempt. */
  success_rate: number | null;
  median_ms: number | null;
  p95_ms: number | null;
  /** The last 7 UTC days, oldest first, today last. */
  bytes_per_day: DayBytes[];
  /** The change that has waited longest for the server. */
  oldest_unsent: { seq: number; note_id: string; state: EntryState; created_at: number } | null;
  stale_after_ms: number;
  stale: boolean;
  failed_entries: OutboxRow[];
}

/** The history, newest first, with its insights as of `now_ms`. */
export interface SyncHistory {
  now_ms: number;
  passes: PassRecord[];
  insights: Insights;
}

export interface OutboxListing {
  entries: OutboxRow[];
  discarded: DiscardedRow[];
}

export interface AccountInfo {
  server_url: string | null;
  username: string | null;
  logged_in: boolean;
}

/** One of the account's live sessions (one per signed-in device). */
export interface AccountSession {
  id: string;
  device_name: string | null;
  created_at_ms: number;
  last_seen_at_ms: number;
  /** This device's own session. */
  current: boolean;
}

/** What became of this store's own passphrase after the account's changed. */
export type LocalPassphrase = 'rewrapped' | 'separate' | 'not_passphrase' | 'failed';

export interface PassphraseChangeReport {
  sessions_ended: number;
  local: LocalPassphrase;
}

export type Theme = 'system' | 'light' | 'dark';

export interface Settings {
  theme: Theme;
}

/** A tag in use and how many notes carry it (the tag editor's completion). */
export interface TagCount {
  tag: string;
  /** Live notes that carry it. */
  notes: number;
}

/** What starting over with the server did. */
export interface StartOverReport {
  /** Notes queued to be sent again, as they stand. */
  requeued: number;
  /** Changes that were queued already, now based on what the server has. */
  pending: number;
}

/** What the native picker is asked for. */
export type PickKind = 'import_folder' | 'import_file' | 'export_folder';

/** A note an import left out (or a part of one), where and why. */
export interface SkippedNote {
  at: string;
  title: string | null;
  reason: string;
}

export interface ImportReport {
  format: string;
  imported: number;
  duplicates: number;
  skipped: SkippedNote[];
  left_out: SkippedNote[];
}

export interface ImportProgress {
  read: number;
  imported: number;
  duplicates: number;
  skipped: number;
}

export interface Credentials {
  serverUrl: string;
  username: string;
  passphrase: string;
  /** Log-in only: the authenticator's current code, once the server asked (`totp_required`). */
  totpCode?: string | null;
}

/**
 * Whether the store is open, or what the UI must ask first: its
 * passphrase, a new passphrase (no OS keyring here), or nothing it can do
 * (the keyring holding the key cannot be reached: fail closed).
 */
export type Lock = 'open' | 'passphrase' | 'new_passphrase' | { key_unavailable: { message: string } };

export interface AppInfo {
  lock: Lock;
  data_dir: string;
  version: string;
}

/** What every command rejects with. */
export interface ApiErrorShape {
  code: string;
  message: string;
}

export type Unlisten = () => void;

/**
 * Everything the UI asks of the core. `src/api/index.ts` implements it over
 * Tauri IPC; `dev/fake.ts` implements it in memory for the look-and-feel
 * harness. Components receive it; none imports Tauri.
 */
export interface Api {
  /** The notebook sidebar's calls; a shell or fake without them shows no sidebar. */
  notebooks?: NotebookApi;
  /** The history panel's and the Trash view's calls; a shell or fake without them shows neither. */
  history?: HistoryApi;
  /** Attached files; a shell or fake without them takes no pasted files. */
  files?: FilesApi;
  appInfo(): Promise<AppInfo>;
  unlock(passphrase: string): Promise<AppInfo>;
  listNotes(): Promise<NoteSummary[]>;
  /** The list lines of these notes; an id missing from the answer is deleted or gone. */
  noteSummaries(ids: string[]): Promise<NoteSummary[]>;
  searchNotes(query: string): Promise<SearchHit[]>;
  getNote(id: string): Promise<Note>;
  createNote(draft: NoteDraft): Promise<Note>;
  /**
   * Save an edit. `base` is the version the editor loaded (its stamp and
   * body): if the note changed underneath since (a sync), the core merges
   * the edit with it instead of overwriting it. Without `base.body` such a
   * save is refused with code `stale`.
   */
  updateNote(id: string, patch: NotePatch, base?: { hlc: string; body?: string }): Promise<Note>;
  deleteNote(id: string): Promise<void>;
  listConflicts(): Promise<ConflictView[]>;
  resolveConflict(id: number, resolution: Resolution): Promise<Note>;
  getConflictStrategy(noteId: string | null): Promise<Strategy | null>;
  setConflictStrategy(noteId: string | null, strategy: Strategy | null): Promise<void>;
  syncStatus(): Promise<SyncStatus>;
  syncNow(): Promise<void>;
  approveMassDelete(): Promise<void>;
  setNetwork(mode: NetMode): Promise<void>;
  getSyncPolicy(): Promise<PolicySettings>;
  /** Saved in the store; a running engine applies it at once. */
  setSyncPolicy(policy: PolicySettings): Promise<void>;
  /** The testers' overrides of the device's situation (empty: all the OS's). */
  getDeviceSituation(): Promise<DeviceOverrides>;
  /** Replaces the overrides whole; the engine applies them within a second. */
  setDeviceSituation(overrides: DeviceOverrides): Promise<void>;
  /** The sync history and its insights (success rate, durations, bytes, the oldest unsent change). */
  syncHistory(): Promise<SyncHistory>;
  /** The outbox in send order, and the discarded entries. */
  outboxEntries(): Promise<OutboxListing>;
  /** A failed entry (or every failed one: null) back in the queue; syncs now. Returns the entries put back. */
  outboxRetry(seq: number | null): Promise<number[]>;
  /** Stop sending an entry: kept sealed among the discarded; the note keeps its text here. Ask first. */
  outboxDiscard(seq: number): Promise<number[]>;
  accountInfo(): Promise<AccountInfo>;
  register(c: Credentials): Promise<AccountInfo>;
  logIn(c: Credentials): Promise<AccountInfo>;
  logOut(): Promise<{ pending: number }>;
  /** The account's live sessions; needs a signed-in device. */
  listSessions(): Promise<AccountSession[]>;
  /** Sign another device out (code `session_not_found` if it was already). */
  revokeSession(id: string): Promise<void>;
  /** Sign out every device but this one; how many were. */
  revokeOtherSessions(): Promise<number>;
  /** Codes: `wrong_current_passphrase`, `weak_passphrase`, `key_changed`. */
  changePassphrase(current: string, next: string, keepOtherSessions: boolean): Promise<PassphraseChangeReport>;
  /** Deletes the account on the server; sync stops, the notes stay here. Codes: `username_mismatch`, `wrong_passphrase`. */
  deleteAccount(username: string, passphrase: string): Promise<{ notes_kept: number }>;
  /** When each live note was made (the list's sort by created). */
  noteCreatedTimes(): Promise<{ id: string; created_at: number }[]>;
  /** Every tag in use, most used first. */
  tagCounts(): Promise<TagCount[]>;
  /** Open a web or mail link in the system's browser (the shell refuses other schemes). */
  openExternal(url: string): Promise<void>;
  /** Forget what the server holds, send every note again and pull everything. Code `no_account` without one. */
  startOver(): Promise<StartOverReport>;
  /** The native picker; null when cancelled. Import and export take only a path it returned. */
  pickPath(kind: PickKind): Promise<string | null>;
  importNotes(path: string): Promise<ImportReport>;
  /** Every note as Markdown with front matter into the folder; how many. */
  exportNotes(path: string): Promise<number>;
  onImportProgress(cb: (p: ImportProgress) => void): Promise<Unlisten>;
  getSettings(): Promise<Settings>;
  setSettings(settings: Settings): Promise<void>;
  onSyncStatus(cb: (s: SyncStatus) => void): Promise<Unlisten>;
  /**
   * A sync pass wrote these notes (pulled, merged, or changed their sync
   * state). `all`: the shell fell behind and cannot say which (`ids` is
   * then empty): every note may have changed.
   */
  onNotesChanged(cb: (ids: string[], all: boolean) => void): Promise<Unlisten>;
  /**
   * Run `flush` before the window closes (unsaved edits). Optional: the
   * fake harness has no window.
   */
  onCloseRequested?(flush: () => Promise<void>): Promise<Unlisten>;
}
