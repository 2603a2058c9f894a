// The app's state and actions. Components read signals from here and call
// actions; the decisions live in the plain modules under lib/ (tested
// without a DOM), and all IPC goes through the `Api` handed in.
import { batch, createSignal } from 'solid-js';
import { toApiError } from './api/errors';
import type {
  AccountInfo,
  Api,
  ConflictView,
  Credentials,
  NetMode,
  Note,
  NotePatch,
  Resolution,
  Settings,
  Strategy,
  SyncStatus,
  Theme,
} from './api/types';
import { Autosaver, type SaveState } from './lib/autosave';
import { isNewer, refreshNeeded, serverResetNotice } from './lib/status';
import { type ListItem, removeSummary, SearchController, upsertSummary } from './lib/search';
import { type Toast, type ToastKind, toastDuration } from './lib/toasts';

export interface LoadedNote {
  note: Note;
  /** Changes when the editor must load this note's text anew. */
  version: number;
}

export interface ConflictScreen {
  conflict: ConflictView;
  /** The note as it is now: its body is the merged text with markers. */
  note: Note;
}

export type AppState = ReturnType<typeof createAppState>;

const PREVIEW_KEY = 'outpost.preview';
const LAST_NOTE_KEY = 'outpost.lastNote';

function remember(key: string, value: string | null): void {
  try {
    if (value === null) globalThis.localStorage?.removeItem(key);
    else globalThis.localStorage?.setItem(key, value);
  } catch {
    /* not kept across restarts then */
  }
}

function loadPreviewIds(): Set<string> {
  try {
    const raw = globalThis.localStorage?.getItem(PREVIEW_KEY);
    const arr: unknown = raw ? JSON.parse(raw) : [];
    return new Set(Array.isArray(arr) ? arr.filter((x): x is string => typeof x === 'string') : []);
  } catch {
    return new Set();
  }
}

export function createAppState(api: Api) {
  // Notes list.
  const [notes, setNotes] = createSignal<ListItem[]>([]);
  const [listLoading, setListLoading] = createSignal(true);
  const [query, setQueryValue] = createSignal('');
  const [resultQuery, setResultQuery] = createSignal('');

  // The open note.
  const [selectedId, setSelectedId] = createSignal<string | null>(null);
  const [current, setCurrent] = createSignal<LoadedNote | null>(null);
  const [noteLoading, setNoteLoading] = createSignal(false);
  const [saveState, setSaveState] = createSignal<SaveState>('saved');
  const [saveError, setSaveError] = createSignal<string | null>(null);
  const [previewIds, setPreviewIds] = createSignal<Set<string>>(loadPreviewIds());
  const [noteStrategy, setNoteStrategy] = createSignal<Strategy | null>(null);

  // Sync, account, settings.
  const [status, setStatus] = createSignal<SyncStatus | null>(null);
  const [account, setAccount] = createSignal<AccountInfo | null>(null);
  const [settings, setSettingsValue] = createSignal<Settings>({ theme: 'system' });
  const [appStrategy, setAppStrategy] = createSignal<Strategy>('auto_merge');
  const [conflicts, setConflicts] = createSignal<ConflictView[]>([]);
  const [conflictScreen, setConflictScreen] = createSignal<ConflictScreen | null>(null);

  // Overlays.
  const [settingsOpen, setSettingsOpen] = createSignal(false);
  const [helpOpen, setHelpOpen] = createSignal(false);
  const [networkOpen, setNetworkOpen] = createSignal(false);
  const [toasts, setToasts] = createSignal<Toast[]>([]);
  const [now, setNow] = createSignal(Date.now());

  let toastSeq = 0;
  function toast(message: string, kind: ToastKind = 'info', code?: string): void {
    const t: Toast = { id: ++toastSeq, kind, message, ...(code ? { code } : {}) };
    setToasts((ts) => [...ts.slice(-3), t]);
    setTimeout(() => dismissToast(t.id), toastDuration(t));
  }
  function dismissToast(id: number): void {
    setToasts((ts) => ts.filter((t) => t.id !== id));
  }
  function toastError(e: unknown): void {
    const err = toApiError(e);
    toast(err.message, 'error', err.code);
  }

  // The version each open editor started from (stamp and body). A save
  // names it, so a note that a sync changed underneath is merged with the
  // editor's text by the core instead of being overwritten by it.
  const bases = new Map<string, { hlc: string; body: string }>();
  // Notes whose last save was merged with a change from elsewhere: the
  // editor shows the merged text as soon as nothing is typed on top.
  const merged = new Set<string>();

  /** Put `note` in the editor (it shows `note.body`): its new base. */
  function loadEditor(note: Note): void {
    bases.set(note.id, { hlc: note.hlc, body: note.body });
    merged.delete(note.id);
    setCurrent({ note, version: ++version });
  }

  async function saveFromEditor(id: string, patch: NotePatch): Promise<Note> {
    const base = bases.get(id);
    let note: Note;
    try {
      note = await api.updateNote(id, patch, base ? { hlc: base.hlc } : undefined);
    } catch (e) {
      if (!base || toApiError(e).code !== 'stale') throw e;
      note = await api.updateNote(id, patch, base);
    }
    const sent = patch.body ?? base?.body;
    if (sent === undefined || note.body === sent) {
      bases.set(id, { hlc: note.hlc, body: note.body });
    } else {
      // Merged: keep the old base, so a save typed on top of the editor's
      // (unmerged) text merges again instead of dropping the other side.
      merged.add(id);
    }
    return note;
  }

  const autosaver = new Autosaver({
    save: saveFromEditor,
    onSaved: (note) => {
      setNotes((list) => upsertSummary(list, note, resultQuery()));
      const cur = current();
      if (cur && cur.note.id === note.id) {
        if (merged.has(note.id) && !autosaver.isDirty(note.id)) {
          // Show what was merged in; the editor reloads from `note`.
          merged.delete(note.id);
          loadEditor(note);
        } else {
          // Same version: the editor keeps its text (it may be ahead of
          // this save); `note` records what the core now holds.
          setCurrent({ version: cur.version, note });
        }
      }
    },
    onError: (_id, e) => {
      const err = toApiError(e);
      setSaveError(err.message);
      toast(`Not saved: ${err.message} Your text is kept here; it will be saved again.`, 'error', err.code);
    },
    onState: (id, s) => {
      if (id === selectedId()) {
        setSaveState(s);
        if (s !== 'error') setSaveError(null);
      }
    },
  });

  const search = new SearchController(
    api,
    (r) =>
      batch(() => {
        setNotes(r.items);
        setResultQuery(r.query);
        setListLoading(false);
      }),
    (e) => {
      setListLoading(false);
      toastError(e);
    },
  );

  // --- notes -------------------------------------------------------------

  function setQuery(q: string): void {
    setQueryValue(q);
    search.setQuery(q);
  }

  let loadSeq = 0;
  let version = 0;

  async function openNote(id: string | null): Promise<void> {
    const prev = selectedId();
    if (prev && prev !== id) void autosaver.flush(prev);
    batch(() => {
      setSelectedId(id);
      setConflictScreen(null);
      setSaveState(id ? autosaver.state(id) : 'saved');
      setSaveError(null);
    });
    const my = ++loadSeq;
    remember(LAST_NOTE_KEY, id);
    if (!id) {
      setCurrent(null);
      return;
    }
    const slow = setTimeout(() => my === loadSeq && setNoteLoading(true), 150);
    try {
      // Our own unsaved edits of this note first, so we read them back.
      await autosaver.flush(id);
      const [note, strategy] = await Promise.all([api.getNote(id), api.getConflictStrategy(id).catch(() => null)]);
      if (my !== loadSeq) return;
      batch(() => {
        loadEditor(note);
        setNoteStrategy(strategy);
      });
    } catch (e) {
      if (my !== loadSeq) return;
      toastError(e);
      const err = toApiError(e);
      if (err.code === 'note_not_found') {
        setNotes((l) => removeSummary(l, id));
        setSelectedId(null);
        setCurrent(null);
      }
    } finally {
      clearTimeout(slow);
      if (my === loadSeq) setNoteLoading(false);
    }
  }

  async function newNote(): Promise<Note | null> {
    try {
      const note = await api.createNote({ title: '', body: '', tags: [], pinned: false });
      if (resultQuery().trim()) setQuery('');
      setNotes((l) => upsertSummary(l, note, ''));
      const prev = selectedId();
      if (prev) void autosaver.flush(prev);
      ++loadSeq;
      remember(LAST_NOTE_KEY, note.id);
      batch(() => {
        setSelectedId(note.id);
        setConflictScreen(null);
        loadEditor(note);
        setNoteStrategy(null);
        setSaveState('saved');
      });
      return note;
    } catch (e) {
      toastError(e);
      return null;
    }
  }

  function editTitle(id: string, title: string): void {
    autosaver.edit(id, { title });
    // The list shows the new title at once.
    setNotes((l) => l.map((n) => (n.id === id ? { ...n, title } : n)));
  }

  function editBody(id: string, body: () => string): void {
    autosaver.edit(id, { body });
  }

  async function setPinned(id: string, pinned: boolean): Promise<void> {
    autosaver.edit(id, { pinned });
    const cur = current();
    if (cur && cur.note.id === id) setCurrent({ ...cur, note: { ...cur.note, pinned } });
    await autosaver.flush(id);
  }

  async function deleteNote(id: string): Promise<void> {
    try {
      await autosaver.flush(id);
      await api.deleteNote(id);
      setNotes((l) => removeSummary(l, id));
      if (selectedId() === id) {
        ++loadSeq;
        remember(LAST_NOTE_KEY, null);
        setSelectedId(null);
        setCurrent(null);
      }
      toast('Note deleted.');
    } catch (e) {
      toastError(e);
    }
  }

  function isPreview(id: string): boolean {
    return previewIds().has(id);
  }

  function togglePreview(id: string): void {
    const next = new Set(previewIds());
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setPreviewIds(next);
    try {
      globalThis.localStorage?.setItem(PREVIEW_KEY, JSON.stringify([...next].slice(-500)));
    } catch {
      /* not kept across restarts then */
    }
  }

  async function setStrategyForNote(id: string, s: Strategy | null): Promise<void> {
    try {
      await api.setConflictStrategy(id, s);
      setNoteStrategy(s);
    } catch (e) {
      toastError(e);
    }
  }

  async function setStrategyForApp(s: Strategy): Promise<void> {
    try {
      await api.setConflictStrategy(null, s);
      setAppStrategy(s);
    } catch (e) {
      toastError(e);
    }
  }

  // --- sync ---------------------------------------------------------------

  let refreshTimer: ReturnType<typeof setTimeout> | null = null;
  function scheduleRefresh(): void {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      void refreshList();
    }, 500);
  }

  async function refreshList(): Promise<void> {
    await search.run();
    await reloadCurrentIfChanged();
  }

  /** The open note changed elsewhere (a pull): load it, unless the user has unsaved edits. */
  async function reloadCurrentIfChanged(): Promise<void> {
    const cur = current();
    if (!cur) return;
    const line = notes().find((n) => n.id === cur.note.id);
    if (!line) return;
    if (line.updated_at === cur.note.updated_at && line.sync === cur.note.sync) return;
    if (autosaver.isDirty(cur.note.id)) return;
    try {
      const note = await api.getNote(cur.note.id);
      const now = current();
      if (!now || now.note.id !== note.id || autosaver.isDirty(note.id)) return;
      const textChanged = note.body !== now.note.body || note.title !== now.note.title;
      bases.set(note.id, { hlc: note.hlc, body: note.body });
      setCurrent({ note, version: textChanged ? ++version : now.version });
    } catch {
      /* the next refresh tries again */
    }
  }

  async function refreshConflicts(): Promise<void> {
    try {
      setConflicts(await api.listConflicts());
    } catch (e) {
      toastError(e);
    }
  }

  function onStatus(s: SyncStatus): void {
    const prev = status();
    if (!isNewer(prev, s)) return;
    setStatus(s);
    const reset = serverResetNotice(prev, s);
    if (reset) toast(reset);
    const need = refreshNeeded(prev, s);
    if (need.list) scheduleRefresh();
    if (need.conflicts) void refreshConflicts();
  }

  async function syncNow(): Promise<void> {
    await autosaver.flush();
    // Local only, or working offline: saving is all there is to do (the
    // status bar already says so).
    if (account() && !account()!.logged_in) return;
    if (status()?.net_mode.mode === 'offline') return;
    try {
      await api.syncNow();
    } catch (e) {
      toastError(e);
    }
  }

  async function approveMassDelete(): Promise<void> {
    try {
      await api.approveMassDelete();
      toast('Approved: the sync goes on.');
    } catch (e) {
      toastError(e);
    }
  }

  async function setNetwork(mode: NetMode): Promise<boolean> {
    try {
      await api.setNetwork(mode);
      const s = status();
      if (s) setStatus({ ...s, net_mode: mode });
      return true;
    } catch (e) {
      toastError(e);
      return false;
    }
  }

  // --- conflicts -----------------------------------------------------------

  async function openConflict(c: ConflictView): Promise<void> {
    try {
      const prev = selectedId();
      if (prev) await autosaver.flush(prev);
      const note = await api.getNote(c.note_id);
      ++loadSeq;
      batch(() => {
        setSelectedId(c.note_id);
        loadEditor(note);
        setConflictScreen({ conflict: c, note });
      });
    } catch (e) {
      toastError(e);
    }
  }

  async function openConflictForNote(noteId: string): Promise<void> {
    let list = conflicts();
    if (!list.some((c) => c.note_id === noteId)) {
      await refreshConflicts();
      list = conflicts();
    }
    const c = list.find((x) => x.note_id === noteId && x.resolved_at === null);
    if (c) await openConflict(c);
    else toast('No open conflict for this note.');
  }

  function closeConflict(): void {
    setConflictScreen(null);
  }

  async function resolveConflict(id: number, resolution: Resolution): Promise<boolean> {
    try {
      const note = await api.resolveConflict(id, resolution);
      batch(() => {
        setConflictScreen(null);
        setConflicts((cs) => cs.filter((c) => c.id !== id));
        if (!note.deleted) {
          setNotes((l) => upsertSummary(l, note, resultQuery()));
          loadEditor(note);
          setSelectedId(note.id);
        } else {
          setNotes((l) => removeSummary(l, note.id));
          setCurrent(null);
          setSelectedId(null);
        }
      });
      toast('Conflict resolved. The result syncs like any edit.');
      void refreshConflicts();
      return true;
    } catch (e) {
      toastError(e);
      return false;
    }
  }

  // --- account and settings -----------------------------------------------

  async function register(c: Credentials): Promise<AccountInfo> {
    const info = await api.register(c);
    setAccount(info);
    toast(`Account ${info.username ?? ''} created. This device's notes will upload now.`);
    void syncNow();
    return info;
  }

  async function logIn(c: Credentials): Promise<AccountInfo> {
    const info = await api.logIn(c);
    setAccount(info);
    toast(`Logged in as ${info.username ?? ''}. Your notes are syncing.`);
    void syncNow();
    return info;
  }

  async function logOut(): Promise<void> {
    await autosaver.flush();
    try {
      const r = await api.logOut();
      setAccount(await api.accountInfo().catch(() => ({ server_url: account()?.server_url ?? null, username: null, logged_in: false })));
      toast(
        r.pending > 0
          ? `Logged out. ${r.pending} unsent ${r.pending === 1 ? 'change stays' : 'changes stay'} on this device and will sync after you log in again.`
          : 'Logged out. Your notes stay on this device.',
      );
    } catch (e) {
      toastError(e);
    }
  }

  async function setTheme(theme: Theme): Promise<void> {
    const next = { ...settings(), theme };
    setSettingsValue(next);
    try {
      await api.setSettings(next);
    } catch (e) {
      toastError(e);
    }
  }

  // --- start-up ----------------------------------------------------------------

  async function init(): Promise<void> {
    // The list first: it is what the window shows; the rest answers while it loads.
    const listDone = search.run();
    const unlisten = await api.onSyncStatus(onStatus).catch((e: unknown) => {
      toastError(e);
      return () => undefined;
    });
    const [st, acct, sett, strat] = await Promise.allSettled([
      api.syncStatus(),
      api.accountInfo(),
      api.getSettings(),
      api.getConflictStrategy(null),
    ]);
    batch(() => {
      if (st.status === 'fulfilled') onStatus(st.value);
      if (acct.status === 'fulfilled') setAccount(acct.value);
      if (sett.status === 'fulfilled') setSettingsValue(sett.value);
      if (strat.status === 'fulfilled' && strat.value) setAppStrategy(strat.value);
    });
    for (const r of [st, acct, sett]) if (r.status === 'rejected') toastError(r.reason);
    void refreshConflicts();
    await listDone;
    // Reopen the note that was open last time, if it is still here.
    let last: string | null = null;
    try {
      last = globalThis.localStorage?.getItem(LAST_NOTE_KEY) ?? null;
    } catch {
      last = null;
    }
    if (last && !selectedId() && notes().some((n) => n.id === last)) void openNote(last);
    const tick = setInterval(() => setNow(Date.now()), 15_000);
    const unClose = api.onCloseRequested ? await api.onCloseRequested(() => autosaver.flush()).catch(() => null) : null;
    const onHide = () => void autosaver.flush();
    globalThis.addEventListener?.('pagehide', onHide);
    disposers.push(unlisten, () => clearInterval(tick), () => globalThis.removeEventListener?.('pagehide', onHide));
    if (unClose) disposers.push(unClose);
  }

  const disposers: (() => void)[] = [];
  function dispose(): void {
    for (const d of disposers.splice(0)) d();
    autosaver.dispose();
    search.dispose();
  }

  return {
    api,
    autosaver,
    // signals
    notes,
    listLoading,
    query,
    resultQuery,
    selectedId,
    current,
    noteLoading,
    saveState,
    saveError,
    noteStrategy,
    status,
    account,
    settings,
    appStrategy,
    conflicts,
    conflictScreen,
    settingsOpen,
    setSettingsOpen,
    helpOpen,
    setHelpOpen,
    networkOpen,
    setNetworkOpen,
    toasts,
    now,
    // actions
    init,
    dispose,
    toast,
    toastError,
    dismissToast,
    setQuery,
    openNote,
    newNote,
    editTitle,
    editBody,
    setPinned,
    deleteNote,
    isPreview,
    togglePreview,
    setStrategyForNote,
    setStrategyForApp,
    syncNow,
    approveMassDelete,
    setNetwork,
    openConflict,
    openConflictForNote,
    closeConflict,
    resolveConflict,
    register,
    logIn,
    logOut,
    setTheme,
    refreshList,
  };
}
