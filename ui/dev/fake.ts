// An in-memory fake of the core behind the IPC contract, for the dev
// harness only. It keeps notes, answers searches, and plays a sync engine
// well enough to show every state of the status bar. `remote` plays another
// device whose changes a pull brings in (the `notes-changed` event).
import { ApiError } from '../src/api/errors';
import type { NotebookApi, NotebookView } from '../src/api/notebooks';
import { fakeHistory } from '../src/testing/history-fake';
import type {
  ImportProgress,
  AccountInfo,
  AccountSession,
  Api,
  Lock,
  ConflictView,
  DeviceOverrides,
  NetMode,
  Note,
  NoteSummary,
  OutboxRow,
  DiscardedRow,
  PassRecord,
  PassTrigger,
  PolicySettings,
  SearchHit,
  Settings,
  Strategy,
  SyncHistory,
  SyncStatus,
  Theme,
} from '../src/api/types';

export type Scenario =
  | 'empty'
  | 'many'
  | 'offline'
  | 'syncing'
  | 'conflict'
  | 'settings'
  | 'error'
  | 'held'
  | 'local'
  | 'locked'
  | 'new_passphrase'
  | 'key_unavailable'
  | 'incoming'
  | 'deferred'
  | 'monitor';

const WORDS = (
  'garden river budget meeting recipe travel lisbon notes draft ideas book chapter plan weekly review quarterly offline sync design ' +
  'kitchen coffee marathon training invoice letter project launch summer winter reading list groceries interview research paper ' +
  'release checklist retro standup journal poem sketch outline todo backlog roadmap migration schema server client protocol'
).split(' ');

const SENTENCES = [
  'The first draft is done; the second one needs fewer adjectives.',
  'Call the landlord about the heating before Friday.',
  'Offline first means the network is a nice-to-have, never a dependency.',
  'Buy oat milk, lemons, a loaf of sourdough and olive oil.',
  'Meeting notes: ship the beta to ten testers, collect feedback for two weeks.',
  'The river path floods in March; take the upper trail instead.',
  'Remember to back up the photos from the trip to Lisbon.',
  'Conflicts are resolved on the client, which holds base, mine and theirs.',
];

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function uuid(i: number): string {
  const h = (i + 0x1000).toString(16).padStart(12, '0');
  return `0190a1b2-c3d4-7e5f-8a9b-${h}`;
}

function cap(s: string) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const now = Date.now();

function makeNotes(count: number): Note[] {
  const r = rng(42);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
  const notes: Note[] = [];
  const fixed = [
    { title: 'Welcome to Outpost', body: '# Welcome\n\nNotes live on this device, **encrypted**. Connect a server in Settings to sync them.\n\n- Press Ctrl+N for a new note\n- Ctrl+K searches\n- Ctrl+S syncs now\n\n> Nothing waits on the network.' },
    { title: 'Trip to Lisbon', body: '## Lisbon\n\n- Flights booked\n- Tram 28 early in the morning\n- Pastéis de Belém\n\nRemember to back up the photos.' },
    { title: 'Weekly review', body: '## Done\n\n- Shipped the sync engine\n\n## Next\n\n- Conflict view\n- Status bar' },
  ];
  for (let i = 0; i < count; i++) {
    const f = fixed[i];
    const title = f ? f.title : `${cap(pick(WORDS))} ${pick(WORDS)}${r() < 0.4 ? ` ${pick(WORDS)}` : ''}`;
    const body = f
      ? f.body
      : `${Array.from({ length: 2 + Math.floor(r() * 5) }, () => pick(SENTENCES)).join(' ')}\n\n- ${pick(WORDS)}\n- ${pick(WORDS)}\n`;
    const updated = now - Math.floor(i < 5 ? i * 90_000 + 20_000 : (i / count) * 400 * 86_400_000 + r() * 86_400_000);
    notes.push({
      id: uuid(i),
      title,
      body,
      tags: [],
      pinned: i === 0 || i === 7 || i === 40,
      created_at: updated - 86_400_000,
      updated_at: updated,
      hlc: `${updated.toString(16)}-0000-dev`,
      server_rev: i + 1,
      deleted: false,
      sync: 'synced',
    });
  }
  return notes;
}

/**
 * Why the engine's policy holds sync back, as `outpost_core::policy` words
 * it (the first reason that applies, in the engine's order), or null. The
 * fake's OS reports Wi-Fi, mains power and the app on screen.
 */
export function fakeDeferral(o: DeviceOverrides, p: PolicySettings, pending: number): string | null {
  const what = pending === 0 ? 'nothing waits' : pending === 1 ? '1 change waits' : `${pending} changes wait`;
  if (o.app === 'suspended') return `in the background: ${what} for the next background sync`;
  if (o.network === 'none') return `no network: ${what} for one`;
  if (o.power === 'low' && p.pause_on_low_battery) return `low battery: ${what} for charging`;
  if (o.network === 'metered' && p.metered === 'never') return `on a metered network: ${what} for Wi-Fi`;
  return null;
}

function summary(n: Note): NoteSummary {
  return { id: n.id, title: n.title, pinned: n.pinned, updated_at: n.updated_at, sync: n.sync };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(sel: string, tries = 100): Promise<HTMLElement | null> {
  for (let i = 0; i < tries; i++) {
    const el = document.querySelector<HTMLElement>(sel);
    if (el) return el;
    await sleep(30);
  }
  return null;
}

const DAY_MS = 86_400_000;

/** A week of passes, newest first, as the engine would have recorded them (seeded). */
function makePasses(at: number, count: number): PassRecord[] {
  const r = rng(7);
  const triggers: PassTrigger[] = ['local_change', 'local_change', 'poke', 'timer', 'sync_now', 'network_back', 'start'];
  const passes: PassRecord[] = [];
  let t = at - 40_000;
  for (let i = 0; i < count; i++) {
    const trigger = triggers[Math.floor(r() * triggers.length)]!;
    const roll = r();
    if (roll < 0.08) {
      passes.push({ started_at: t, duration_ms: 4000 + Math.floor(r() * 6000), trigger, pushed: 0, pulled: 0, bytes_sent: 0, bytes_received: 0, outcome: 'failed', error_code: r() < 0.5 ? 'unreachable' : 'timeout', reason: null });
    } else if (roll < 0.12) {
      passes.push({ started_at: t, duration_ms: 0, trigger, pushed: 0, pulled: 0, bytes_sent: 0, bytes_received: 0, outcome: 'deferred', error_code: null, reason: 'switched offline' });
    } else {
      const pushed = trigger === 'local_change' ? 1 + Math.floor(r() * 3) : 0;
      const pulled = trigger === 'poke' ? 1 + Math.floor(r() * 5) : 0;
      passes.push({ started_at: t, duration_ms: 80 + Math.floor(r() * r() * 1400), trigger, pushed, pulled, bytes_sent: 300 + pushed * (1500 + Math.floor(r() * 4000)), bytes_received: 250 + pulled * (1800 + Math.floor(r() * 5000)), outcome: 'ok', error_code: null, reason: null });
    }
    t -= Math.floor(r() * r() * 6 * 3_600_000) + 60_000;
  }
  return passes;
}

const nearestRank = (sorted: number[], p: number) => (sorted.length === 0 ? null : sorted[Math.max(1, Math.ceil((p * sorted.length) / 100)) - 1]!);

/** What `outpost_core::monitor::insights` computes, for the fake. */
export function fakeInsights(passes: PassRecord[], entries: OutboxRow[], at: number, staleAfterMs = 3_600_000): SyncHistory['insights'] {
  const count = (o: PassRecord['outcome']) => passes.filter((p) => p.outcome === o).length;
  const [ok, failed, deferred] = [count('ok'), count('failed'), count('deferred')];
  const durations = passes.filter((p) => p.outcome !== 'deferred').map((p) => p.duration_ms).sort((a, b) => a - b);
  const today = Math.floor(at / DAY_MS);
  const bytes_per_day = Array.from({ length: 7 }, (_, k) => {
    const day = today - 6 + k;
    const of = passes.filter((p) => Math.floor(p.started_at / DAY_MS) === day);
    return { day_start_ms: day * DAY_MS, sent: of.reduce((s, p) => s + p.bytes_sent, 0), received: of.reduce((s, p) => s + p.bytes_received, 0) };
  });
  const oldest = [...entries].sort((a, b) => a.created_at - b.created_at || a.seq - b.seq)[0];
  return {
    passes: passes.length,
    ok,
    failed,
    deferred,
    success_rate: ok + failed > 0 ? ok / (ok + failed) : null,
    median_ms: nearestRank(durations, 50),
    p95_ms: nearestRank(durations, 95),
    bytes_per_day,
    oldest_unsent: oldest ? { seq: oldest.seq, note_id: oldest.note_id, state: oldest.state, created_at: oldest.created_at } : null,
    stale_after_ms: staleAfterMs,
    stale: oldest !== undefined && at - oldest.created_at > staleAfterMs,
    failed_entries: entries.filter((e) => e.state === 'failed'),
  };
}

/**
 * Notebooks for the dev harness: a tree with the core's rules for names
 * (unique among siblings, no `/`, no cycle), which notebook each note is in,
 * and the `notebook:` filter of a search. `seed` files the first notes in a
 * small nested tree so the sidebar has something to show.
 */
export function fakeNotebooks(noteIds: string[], seed: boolean, onMoved: (noteId: string) => void = () => {}) {
  let next = 1;
  const books = new Map<string, { name: string; parent: string | null }>();
  const noteIn = new Map<string, string>();
  const path = (id: string): string[] => {
    const b = books.get(id)!;
    return b.parent ? [...path(b.parent), b.name] : [b.name];
  };
  const inside = (id: string, ancestor: string): boolean => {
    for (let at: string | null = id; at; at = books.get(at)?.parent ?? null) if (at === ancestor) return true;
    return false;
  };
  const view = (id: string): NotebookView => {
    const b = books.get(id)!;
    const p = path(id);
    return { id, name: b.name, parent: b.parent, depth: p.length - 1, path: p.join('/'), notes: [...noteIn.values()].filter((n) => n === id).length };
  };
  const get = (id: string) => {
    const b = books.get(id);
    if (!b) throw new ApiError('notebook_not_found', `no notebook ${id}`);
    return b;
  };
  const checkName = (name: string, parent: string | null, except?: string) => {
    const n = name.trim();
    if (!n) throw new ApiError('invalid_input', 'a notebook needs a name');
    if (n.includes('/')) throw new ApiError('invalid_input', `notebook name "${n}" contains '/'; '/' separates notebooks in a path`);
    if ([...books.entries()].some(([id, b]) => id !== except && b.parent === parent && b.name.toLowerCase() === n.toLowerCase()))
      throw new ApiError('notebook_name_taken', `there is already a notebook named "${n}" here`);
    return n;
  };
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
      if (parent !== null) get(parent);
      const id = `0190b000-0000-7000-8000-${(next++).toString(16).padStart(12, '0')}`;
      books.set(id, { name: checkName(name, parent), parent });
      return view(id);
    },
    async renameNotebook(id, name) {
      const b = get(id);
      b.name = checkName(name, b.parent, id);
      return view(id);
    },
    async moveNotebook(id, parent) {
      const b = get(id);
      if (parent !== null && inside(parent, id))
        throw new ApiError('notebook_cycle', `notebook "${b.name}" cannot go under "${get(parent).name}", which is inside it; nothing was changed`);
      checkName(b.name, parent, id);
      b.parent = parent;
      return view(id);
    },
    async deleteNotebook(id) {
      const { parent } = get(id);
      let notesMoved = 0;
      let booksMoved = 0;
      for (const [n, nb] of [...noteIn]) {
        if (nb !== id) continue;
        if (parent) noteIn.set(n, parent);
        else noteIn.delete(n);
        notesMoved++;
      }
      for (const b of books.values()) if (b.parent === id) (b.parent = parent), booksMoved++;
      books.delete(id);
      return { notes_moved: notesMoved, notebooks_moved: booksMoved };
    },
    async moveNote(noteId, notebook) {
      if (notebook === null) noteIn.delete(noteId);
      else {
        get(notebook);
        noteIn.set(noteId, notebook);
      }
      onMoved(noteId);
    },
  };
  /**
   * A query's `notebook:NAME` or `notebook:"A NAME"` terms, and the rest.
   * A note matches when it is in a notebook of that name or inside one.
   */
  function filter(query: string): { rest: string; matches: (noteId: string) => boolean } {
    const names: string[] = [];
    const rest = query.replace(/(?:^|\s)notebook:(?:"([^"]*)"|(\S+))/gi, (_m, quoted: string | undefined, bare: string | undefined) => {
      names.push((quoted ?? bare ?? '').toLowerCase());
      return ' ';
    });
    const matches = (noteId: string) => {
      if (names.length === 0) return true;
      const nb = noteIn.get(noteId);
      if (!nb) return false;
      const chain = path(nb).map((n) => n.toLowerCase());
      return names.every((n) => chain.includes(n));
    };
    return { rest: rest.trim(), matches };
  }
  if (seed) {
    const mk = (name: string, parent: string | null) => {
      const id = `0190b000-0000-7000-8000-${(next++).toString(16).padStart(12, '0')}`;
      books.set(id, { name, parent });
      return id;
    };
    const work = mk('Work', null);
    const projects = mk('Projects', work);
    const launch = mk('Outpost launch', projects);
    const meetings = mk('Meetings', work);
    const personal = mk('Personal', null);
    const travel = mk('Travel', personal);
    const recipes = mk('Recipes and the kitchen notebook with a long name', personal);
    const filed = [launch, meetings, projects, travel, recipes, work];
    noteIds.slice(0, 60).forEach((id, i) => {
      if (i % 4 !== 0) noteIn.set(id, filed[i % filed.length]!);
    });
  }
  return { api, filter, books, noteIn };
}

/** `seedNotebooks`: file the first notes in a small notebook tree (default: when there are notes). */
export function createFakeApi(opts: { scenario: Scenario; count: number; theme: Theme; bigFirst?: boolean; seedNotebooks?: boolean }) {
  const { scenario } = opts;
  const notes = new Map<string, Note>(makeNotes(opts.count).map((n) => [n.id, n]));
  if (opts.bigFirst) {
    // A note of about 1 MB, to feel typing latency in a large note.
    const first = notes.values().next().value;
    const para = `${SENTENCES.join(' ')}\n\n`;
    if (first) notes.set(first.id, { ...first, title: 'A 1 MB note', body: para.repeat(Math.floor(1_000_000 / para.length)) });
  }
  // The notebook tree; a note moved into one is announced as changed.
  const books = fakeNotebooks([...notes.keys()], opts.seedNotebooks ?? opts.count > 0, (id) => notesChanged([id]));
  const listeners = new Set<(s: SyncStatus) => void>();
  const changeListeners = new Set<(ids: string[], all: boolean) => void>();
  let settings: Settings = { theme: opts.theme };
  let appStrategy: Strategy = 'auto_merge';
  // The core's defaults: notes sync on mobile data, large work waits for
  // Wi-Fi, and nothing is sent on low battery.
  let policy: PolicySettings = { metered: 'small_changes_only', pause_on_low_battery: true };
  let overrides: DeviceOverrides = {};
  const noteStrategy = new Map<string, Strategy>();
  let seq = notes.size;
  let account: AccountInfo =
    scenario === 'empty' || scenario === 'local'
      ? { server_url: null, username: null, logged_in: false }
      : { server_url: 'https://sync.example.org', username: 'ada', logged_in: true };

  // The account's sessions and passphrase (null: changed on another device).
  let accountPassphrase: string | null = 'correct horse battery';
  /** The code two-factor log-in wants, once a test turns it on. */
  let totpCode: string | null = null;
  let sessions: AccountSession[] = account.logged_in
    ? [
        { id: '0190a000-0000-7000-8000-000000000001', device_name: 'ada-laptop', created_at_ms: now - 40 * 86_400_000, last_seen_at_ms: now, current: true },
        { id: '0190a000-0000-7000-8000-000000000002', device_name: 'Pixel 8', created_at_ms: now - 12 * 86_400_000, last_seen_at_ms: now - 3 * 3_600_000, current: false },
        { id: '0190a000-0000-7000-8000-000000000003', device_name: null, created_at_ms: now - 90 * 86_400_000, last_seen_at_ms: now - 20 * 86_400_000, current: false },
      ]
    : [];

  const conflicts: ConflictView[] = [];
  // Links opened, pickers shown and what they answer, exports (tests read and set these).
  const transfer = { opened: [] as string[], picks: [] as string[], pick: '/home/ada/Obsidian vault' as string | null, exported: [] as string[], startedOver: 0 };
  const progressListeners = new Set<(p: ImportProgress) => void>();
  // The sync monitor: the pass history, the outbox entries the server
  // refused (pending ones follow the notes' badges) and the discarded ones.
  const passes: PassRecord[] = account.logged_in ? makePasses(now, scenario === 'monitor' ? 60 : 12) : [];
  const refused: OutboxRow[] = [];
  const discarded: DiscardedRow[] = [];
  let outboxSeq = 100;
  const pendingSince = new Map<string, number>();
  let status: SyncStatus = {
    connectivity: account.logged_in ? 'online' : 'unknown',
    net_mode: { mode: 'online' },
    phase: account.logged_in ? 'idle' : 'stopped',
    pending: 0,
    failed: 0,
    progress: null,
    last_success_ms: account.logged_in ? now - 2 * 60_000 : null,
    last_error: null,
    open_conflicts: 0,
    server_reset_ms: null,
    next_retry_ms: null,
    updated_ms: now,
    deferred: null,
  };

  const ids = [...notes.keys()];
  function markPending(k: number) {
    for (const id of ids.slice(1, 1 + k)) {
      const n = notes.get(id)!;
      notes.set(id, { ...n, sync: 'pending' });
    }
  }

  switch (scenario) {
    case 'offline':
      markPending(4);
      status = { ...status, connectivity: 'switched_off', net_mode: { mode: 'offline' }, phase: 'stopped', pending: 4, last_success_ms: now - 26 * 60_000 };
      break;
    case 'syncing':
      markPending(6);
      status = { ...status, phase: 'pushing', pending: 120, progress: { done: 34, total: 120 } };
      break;
    case 'error':
      markPending(2);
      status = {
        ...status,
        connectivity: 'offline',
        phase: 'waiting_retry',
        pending: 2,
        last_error: { code: 'unreachable', message: 'The sync server cannot be reached (connection refused).', at_ms: now - 5000 },
        next_retry_ms: now + 12_000,
      };
      break;
    case 'held':
      status = {
        ...status,
        phase: 'held',
        last_error: {
          code: 'mass_delete_held',
          message: 'This sync would delete 412 of your 10000 notes. Nothing was deleted; approve to go on.',
          at_ms: now - 3000,
        },
      };
      break;
    case 'monitor': {
      // Two changes the server refused, the oldest three hours ago: stale.
      for (const [k, why] of [
        [2, 'invalid_change: the server refused this change: a tag is longer than 64 bytes'],
        [3, 'invalid_change: the server refused this change: the note is larger than 1 MiB'],
      ] as const) {
        const id = ids[k]!;
        notes.set(id, { ...notes.get(id)!, sync: 'failed' });
        const made = now - (k === 2 ? 3 : 1) * 3_600_000;
        refused.push({ seq: ++outboxSeq, note_id: id, op_id: `0190a1b2-0000-7000-8000-${(outboxSeq + 0x2000).toString(16).padStart(12, '0')}`, state: 'failed', deleted: false, attempts: 3, next_attempt_at: made, last_error: why, created_at: made, updated_at: made + 60_000 });
      }
      markPending(1);
      status = { ...status, pending: 1, failed: refused.length };
      break;
    }
    case 'deferred':
      // A phone on mobile data, told to send nothing until Wi-Fi.
      markPending(3);
      policy = { ...policy, metered: 'never' };
      overrides = { network: 'metered' };
      status = { ...status, pending: 3, deferred: fakeDeferral(overrides, policy, 3) };
      break;
    case 'conflict': {
      const id = ids[1]!;
      const n = notes.get(id)!;
      const base = '## Lisbon\n\n- Flights booked\n- Tram 28 early in the morning\n- Pastéis de Belém\n\nRemember to back up the photos.';
      const mine = '## Lisbon\n\n- Flights booked (TP 1351, Friday 7:40)\n- Tram 28 early in the morning\n- Pastéis de Belém\n\nRemember to back up the photos.';
      const theirs = '## Lisbon\n\n- Flights booked for Saturday instead\n- Tram 28 early in the morning\n- Pastéis de Belém\n- Fado in Alfama on Sunday\n\nRemember to back up the photos.';
      const merged =
        '## Lisbon\n\n<<<<<<< ours\n- Flights booked (TP 1351, Friday 7:40)\n=======\n- Flights booked for Saturday instead\n>>>>>>> theirs\n- Tram 28 early in the morning\n- Pastéis de Belém\n- Fado in Alfama on Sunday\n\nRemember to back up the photos.';
      notes.set(id, { ...n, body: merged, sync: 'conflict' });
      const v = (body: string) => ({ title: n.title, body, tags: [], pinned: false, deleted: false, hlc: n.hlc });
      conflicts.push({
        id: 1,
        note_id: id,
        kind: 'overlap',
        opened_at: now - 4 * 60_000,
        resolved_at: null,
        resolution: null,
        base_body: base,
        mine: v(mine),
        theirs: v(theirs),
      });
      status = { ...status, open_conflicts: 1 };
      break;
    }
    default:
      break;
  }

  function emit(patch: Partial<SyncStatus>) {
    const next = { ...status, ...patch };
    // Like the engine: the reason is said only while it holds sync back
    // (a test may also say it outright).
    const deferred =
      'deferred' in patch
        ? (patch.deferred ?? null)
        : account.logged_in && next.net_mode.mode !== 'offline'
          ? fakeDeferral(overrides, policy, next.pending)
          : null;
    status = { ...next, deferred, updated_ms: Date.now() };
    for (const l of listeners) l(status);
  }

  function notesChanged(ids: string[], all = false) {
    for (const l of changeListeners) l(ids, all);
  }

  function pendingCount() {
    let k = 0;
    for (const n of notes.values()) if (n.sync === 'pending') k++;
    return k;
  }

  let passRunning = false;
  async function pass() {
    if (passRunning || !account.logged_in) return;
    if (status.net_mode.mode === 'offline' || status.deferred !== null) return;
    passRunning = true;
    const started = Date.now();
    const total = Math.max(pendingCount(), 1);
    for (let done = 0; done <= total; done++) {
      emit({ phase: 'pushing', progress: { done, total }, connectivity: 'online' });
      await sleep(Math.min(400, 1500 / total));
    }
    const sent: string[] = [];
    for (const n of notes.values()) {
      if (n.sync !== 'pending') continue;
      notes.set(n.id, { ...n, sync: 'synced' });
      sent.push(n.id);
    }
    for (const id of sent) pendingSince.delete(id);
    passes.unshift({ started_at: started, duration_ms: Date.now() - started, trigger: 'sync_now', pushed: sent.length, pulled: 0, bytes_sent: 300 + sent.length * 2100, bytes_received: 280, outcome: 'ok', error_code: null, reason: null });
    // Like the engine: the notes it wrote first, then the pass's status.
    if (sent.length > 0) notesChanged(sent);
    emit({ phase: 'idle', progress: null, pending: 0, last_success_ms: Date.now(), last_error: null, next_retry_ms: null });
    passRunning = false;
  }

  /** The outbox as the core lists it: pending notes' entries and the refused ones, in send order. */
  function outboxEntries(): OutboxRow[] {
    const pending: OutboxRow[] = [];
    let k = 0;
    for (const n of notes.values()) {
      if (n.sync !== 'pending') continue;
      if (!pendingSince.has(n.id)) pendingSince.set(n.id, Math.min(n.updated_at, Date.now()));
      const made = pendingSince.get(n.id)!;
      pending.push({ seq: 1 + k++, note_id: n.id, op_id: n.id, state: 'pending', deleted: n.deleted, attempts: 0, next_attempt_at: made, last_error: null, created_at: made, updated_at: made });
    }
    return [...pending, ...refused].sort((a, b) => a.seq - b.seq);
  }

  const find = (id: string) => {
    const n = notes.get(id);
    if (!n || n.deleted) throw new ApiError('note_not_found', `No note ${id}.`);
    return n;
  };

  let lock: Lock =
    scenario === 'locked'
      ? 'passphrase'
      : scenario === 'new_passphrase'
        ? 'new_passphrase'
        : scenario === 'key_unavailable'
          ? {
              key_unavailable: {
                message:
                  'The OS keyring that holds this store\'s key cannot be reached (the collection is locked). Unlock it, then start Outpost again.',
              },
            }
          : 'open';
  const info = () => ({ lock, data_dir: '/home/ada/.local/share/outpost', version: '0.1.0' });

  // History and trash: the first notes have a few older versions (one a
  // last-writer-wins loser from another device).
  const history = fakeHistory(notes);
  [...notes.values()].slice(0, 3).forEach((n, i) => {
    const paras = n.body.split('\n\n');
    history.record({ ...n, body: paras.slice(0, 1).join('\n\n') }, 'edit', n.updated_at - 3 * 86_400_000 - i);
    history.record({ ...n, body: `${paras.slice(0, 2).join('\n\n')}\n\nA line the other device wrote.` }, 'lww_loser', n.updated_at - 26 * 3_600_000, '000000000000b0b0');
    history.record({ ...n, body: paras.slice(0, 2).join('\n\n') }, 'remote', n.updated_at - 5 * 3_600_000, '000000000000b0b0');
    history.record(n, 'edit', n.updated_at);
  });

  const api: Api = {
    history: history.api,
    async appInfo() {
      return info();
    },
    async unlock(passphrase) {
      await sleep(300);
      if (lock === 'passphrase' && passphrase !== 'correct horse battery')
        throw new ApiError('wrong_passphrase', 'Wrong passphrase for this store.');
      lock = 'open';
      return info();
    },
    async listNotes() {
      return [...notes.values()].filter((n) => !n.deleted).map(summary);
    },
    async noteSummaries(ids) {
      return ids.flatMap((id) => {
        const n = notes.get(id);
        return n && !n.deleted ? [summary(n)] : [];
      });
    },
    async searchNotes(query) {
      const { rest, matches } = books.filter(query);
      const q = rest.toLowerCase();
      const hits: SearchHit[] = [];
      for (const n of notes.values()) {
        if (n.deleted || !matches(n.id)) continue;
        const inTitle = n.title.toLowerCase().includes(q);
        const at = n.body.toLowerCase().indexOf(q);
        if (!inTitle && at < 0) continue;
        const snippet = at >= 0 ? n.body.slice(Math.max(0, at - 20), at + 60).replace(/\s+/g, ' ') : '';
        const marks = (text: string): [number, number][] => {
          const out: [number, number][] = [];
          for (let i = text.toLowerCase().indexOf(q); q && i >= 0; i = text.toLowerCase().indexOf(q, i + q.length)) out.push([i, i + q.length]);
          return out;
        };
        hits.push({ ...summary(n), snippet, title_highlights: marks(n.title), snippet_highlights: marks(snippet) });
        if (hits.length >= 500) break;
      }
      return hits;
    },
    notebooks: books.api,
    async getNote(id) {
      return find(id);
    },
    async createNote(draft) {
      const t = Date.now();
      const n: Note = {
        id: uuid(++seq),
        ...draft,
        created_at: t,
        updated_at: t,
        hlc: `${t.toString(16)}-0000-dev`,
        server_rev: null,
        deleted: false,
        sync: 'pending',
      };
      notes.set(n.id, n);
      history.record(n);
      emit({ pending: pendingCount() });
      return n;
    },
    async updateNote(id, patch) {
      const n = find(id);
      if (patch.body !== undefined && patch.body.length > 1024 * 1024)
        throw new ApiError('too_large', 'This note is larger than 1 MiB; split it into several notes.');
      const next: Note = { ...n, ...patch, updated_at: Date.now(), sync: n.sync === 'conflict' ? 'conflict' : 'pending' } as Note;
      notes.set(id, next);
      history.record(next);
      emit({ pending: pendingCount() });
      return next;
    },
    async deleteNote(id) {
      find(id);
      history.trash(id);
    },
    async listConflicts() {
      return conflicts.filter((c) => c.resolved_at === null);
    },
    async resolveConflict(id, resolution) {
      const c = conflicts.find((x) => x.id === id);
      if (!c) throw new ApiError('conflict_not_found', `No conflict ${id}.`);
      const n = find(c.note_id);
      const body = resolution.kind === 'mine' ? c.mine.body : resolution.kind === 'theirs' ? c.theirs.body : resolution.body;
      c.resolved_at = Date.now();
      c.resolution = resolution.kind;
      const next: Note = { ...n, body, updated_at: Date.now(), sync: 'pending' };
      notes.set(n.id, next);
      emit({ open_conflicts: conflicts.filter((x) => x.resolved_at === null).length, pending: pendingCount() });
      return next;
    },
    async getConflictStrategy(noteId) {
      return noteId === null ? appStrategy : (noteStrategy.get(noteId) ?? null);
    },
    async setConflictStrategy(noteId, strategy) {
      if (noteId === null) appStrategy = strategy ?? 'auto_merge';
      else if (strategy === null) noteStrategy.delete(noteId);
      else noteStrategy.set(noteId, strategy);
    },
    async syncStatus() {
      return status;
    },
    async syncNow() {
      if (status.net_mode.mode === 'offline') throw new ApiError('offline', 'You are working offline. Switch it off to sync.');
      void pass();
    },
    async approveMassDelete() {
      emit({ phase: 'idle', last_error: null });
    },
    async setNetwork(mode: NetMode) {
      if (mode.mode === 'offline') emit({ net_mode: mode, connectivity: 'switched_off', phase: 'stopped', progress: null });
      else {
        emit({ net_mode: mode, connectivity: 'online', phase: 'idle' });
        void pass();
      }
    },
    async getSyncPolicy() {
      return policy;
    },
    async setSyncPolicy(p) {
      policy = { ...p };
      // Applied live, as the engine does: a lifted hold starts a pass.
      emit({});
      void pass();
    },
    async getDeviceSituation() {
      return { ...overrides };
    },
    async setDeviceSituation(o) {
      // What the device file keeps: the fields that are set.
      overrides = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
      emit({});
      void pass();
    },
    async syncHistory() {
      const at = Date.now();
      return { now_ms: at, passes: [...passes], insights: fakeInsights(passes, outboxEntries(), at) };
    },
    async outboxEntries() {
      return { entries: outboxEntries(), discarded: [...discarded] };
    },
    async outboxRetry(seq) {
      const chosen = refused.filter((e) => seq === null || e.seq === seq);
      if (chosen.length === 0) throw new ApiError('invalid', seq === null ? 'no failed outbox entry' : `outbox entry ${seq} is not failed: nothing to retry`);
      for (const e of chosen) {
        refused.splice(refused.indexOf(e), 1);
        const n = notes.get(e.note_id);
        if (n) notes.set(n.id, { ...n, sync: 'pending' });
      }
      notesChanged(chosen.map((e) => e.note_id));
      emit({ pending: pendingCount(), failed: refused.length });
      void pass();
      return chosen.map((e) => e.seq);
    },
    async outboxDiscard(seq) {
      const e = refused.find((x) => x.seq === seq);
      if (!e) throw new ApiError('invalid', `no outbox entry ${seq} (see \`outpost outbox list\`)`);
      refused.splice(refused.indexOf(e), 1);
      discarded.unshift({ seq: e.seq, note_id: e.note_id, state: e.state, attempts: e.attempts, last_error: e.last_error, created_at: e.created_at, discarded_at: Date.now() });
      const n = notes.get(e.note_id);
      if (n) notes.set(n.id, { ...n, sync: 'synced' });
      notesChanged([e.note_id]);
      emit({ failed: refused.length });
      return [seq];
    },
    async accountInfo() {
      return account;
    },
    async register(c) {
      await sleep(400);
      if (c.serverUrl.includes('bad')) throw new ApiError('unreachable', `Cannot reach ${c.serverUrl}: connection refused.`);
      account = { server_url: c.serverUrl, username: c.username, logged_in: true };
      emit({ connectivity: 'online', phase: 'idle' });
      return account;
    },
    async logIn(c) {
      await sleep(400);
      if (c.passphrase !== 'correct horse battery') throw new ApiError('wrong_passphrase', 'Wrong passphrase for this account.');
      if (totpCode !== null && !c.totpCode)
        throw new ApiError('totp_required', 'this account has two-factor log-in on: give the code from your authenticator app');
      if (totpCode !== null && c.totpCode !== totpCode)
        throw new ApiError('totp_invalid', 'the two-factor code is wrong, expired or already used; nothing was changed');
      account = { server_url: c.serverUrl, username: c.username, logged_in: true };
      emit({ connectivity: 'online', phase: 'idle' });
      return account;
    },
    async logOut() {
      const pending = pendingCount();
      account = { ...account, username: null, logged_in: false };
      emit({ phase: 'stopped', connectivity: 'unknown' });
      return { pending };
    },
    async listSessions() {
      await sleep(50);
      if (!account.logged_in) throw new ApiError('no_account', 'this device has no account yet: register or log in in Settings to sync');
      return sessions.map((x) => ({ ...x }));
    },
    async revokeSession(id) {
      await sleep(50);
      const i = sessions.findIndex((x) => x.id === id && !x.current);
      if (i < 0) throw new ApiError('session_not_found', 'no such session for this account');
      sessions.splice(i, 1);
    },
    async revokeOtherSessions() {
      await sleep(50);
      const n = sessions.filter((x) => !x.current).length;
      sessions = sessions.filter((x) => x.current);
      return n;
    },
    async changePassphrase(current, next, keep) {
      await sleep(100);
      if (next.length < 8) throw new ApiError('weak_passphrase', 'the passphrase is too short: use at least 8 characters');
      if (accountPassphrase === null) throw new ApiError('key_changed', 'the passphrase was changed on another device first; nothing was changed');
      if (current !== accountPassphrase) throw new ApiError('wrong_current_passphrase', 'the current passphrase is wrong; nothing was changed');
      accountPassphrase = next;
      const ended = keep ? 0 : sessions.filter((x) => !x.current).length;
      if (!keep) sessions = sessions.filter((x) => x.current);
      return { sessions_ended: ended, local: 'rewrapped' as const };
    },
    async deleteAccount(username, passphrase) {
      await sleep(100);
      if (username !== account.username) throw new ApiError('username_mismatch', `type the account's username, ${account.username}, to confirm; nothing was deleted`);
      if (passphrase !== accountPassphrase) throw new ApiError('wrong_passphrase', 'Wrong passphrase for this account.');
      account = { server_url: null, username: null, logged_in: false };
      sessions = [];
      emit({ phase: 'stopped', connectivity: 'unknown' });
      return { notes_kept: notes.size };
    },
    async noteCreatedTimes() {
      return [...notes.values()].filter((n) => !n.deleted).map((n) => ({ id: n.id, created_at: n.created_at }));
    },
    async tagCounts() {
      const counts = new Map<string, number>();
      for (const n of notes.values()) if (!n.deleted) for (const t of n.tags) counts.set(t, (counts.get(t) ?? 0) + 1);
      return [...counts].map(([tag, notes]) => ({ tag, notes })).sort((a, b) => b.notes - a.notes || a.tag.localeCompare(b.tag));
    },
    async openExternal(url) {
      if (!/^(https?:\/\/[^/\s]|mailto:\S)/i.test(url)) throw new ApiError('invalid', `only web and mail links open outside the app, not "${url}"`);
      transfer.opened.push(url);
    },
    async startOver() {
      if (!account.logged_in) throw new ApiError('no_account', 'this device has no account yet: register or log in in Settings to sync');
      transfer.startedOver++;
      return { requeued: [...notes.values()].length, pending: pendingCount() };
    },
    async pickPath(kind) {
      transfer.picks.push(kind);
      return transfer.pick;
    },
    async importNotes(path) {
      await sleep(50);
      const titles = ['Reading list', 'Garden plan', 'Trip to Lisbon'];
      let k = 0;
      for (const title of titles) {
        const t = Date.now();
        const id = uuid(++seq);
        notes.set(id, { id, title, body: `Imported from ${path}.`, tags: ['imported'], pinned: false, created_at: t, updated_at: t, hlc: `${t.toString(16)}-0000-dev`, server_rev: null, deleted: false, sync: 'pending' });
        k++;
        for (const cb of progressListeners) cb({ read: k, imported: k, duplicates: 0, skipped: 0 });
      }
      return {
        format: 'markdown',
        imported: titles.length,
        duplicates: 1,
        skipped: [{ at: 'Attachments/huge.md', title: 'Scan of the lease', reason: 'the body is 2.3 MB; the limit is 1 MiB' }],
        left_out: [{ at: 'Garden plan.md', title: 'Garden plan', reason: 'attachment beds.png is not imported (Outpost has no attachments yet)' }],
      };
    },
    async exportNotes(path) {
      transfer.exported.push(path);
      return [...notes.values()].filter((n) => !n.deleted).length;
    },
    async onImportProgress(cb) {
      progressListeners.add(cb);
      return () => progressListeners.delete(cb);
    },
    async getSettings() {
      return settings;
    },
    async setSettings(s) {
      settings = s;
    },
    async onSyncStatus(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    async onNotesChanged(cb) {
      changeListeners.add(cb);
      return () => changeListeners.delete(cb);
    },
  };

  /** Another device's changes, as a pull brings them in: written, then announced. */
  const remote = {
    edit(id: string, patch: Partial<Pick<Note, 'title' | 'body' | 'pinned'>>) {
      const n = find(id);
      const t = Date.now();
      notes.set(id, { ...n, ...patch, updated_at: t, hlc: `${t.toString(16)}-0000-other`, sync: 'synced' });
      notesChanged([id]);
    },
    create(title: string, body = '') {
      const t = Date.now();
      const id = uuid(++seq);
      notes.set(id, { id, title, body, tags: [], pinned: false, created_at: t, updated_at: t, hlc: `${t.toString(16)}-0000-other`, server_rev: seq, deleted: false, sync: 'synced' });
      notesChanged([id]);
      return id;
    },
    delete(id: string) {
      notes.set(id, { ...find(id), deleted: true });
      notesChanged([id]);
    },
    /** Many notes at once (a first sync, a restore). */
    touchAll() {
      const t = Date.now();
      for (const n of notes.values()) if (!n.deleted) notes.set(n.id, { ...n, updated_at: t });
      notesChanged([...notes.keys()]);
    },
    /** The shell fell behind the engine: it says every note may have changed. */
    lagged(change: () => void) {
      change();
      notesChanged([], true);
    },
    /** An event as the shell sends it, whatever it says. */
    announce: notesChanged,
    /** Change a note without announcing it (the event that named it was lost). */
    quietly(id: string, patch: Partial<Pick<Note, 'title' | 'body'>>) {
      notes.set(id, { ...find(id), ...patch, updated_at: Date.now() });
    },
  };

  async function afterStart() {
    const click = async (sel: string) => (await waitFor(sel))?.click();
    switch (scenario) {
      case 'many':
      case 'offline':
      case 'error':
      case 'held':
      case 'deferred':
        await click('[data-testid="note-item"]');
        break;
      case 'syncing':
        await click('[data-testid="note-item"]:nth-child(3)');
        break;
      case 'conflict':
        await waitFor('[data-testid="note-item"]');
        await sleep(100);
        await click('[data-testid="status-conflicts"]');
        break;
      case 'settings':
        await click('[data-testid="note-item"]');
        await click('[data-testid="settings-button"]');
        break;
      case 'monitor':
        await click('[data-testid="note-item"]');
        await click('[data-testid="sync-panel-button"]');
        break;
      case 'incoming': {
        // Another device keeps writing: the list and the open note follow.
        await click('[data-testid="note-item"]');
        let k = 0;
        setInterval(() => {
          k++;
          const live = [...notes.values()].filter((n) => !n.deleted);
          const n = live[Math.floor(Math.random() * Math.min(live.length, 8))];
          if (k % 5 === 0) remote.create(`From the other device ${k}`, 'Written elsewhere.');
          else if (n) remote.edit(n.id, { title: `${n.title.replace(/ \(edited \d+\)$/, '')} (edited ${k})` });
        }, 3000);
        break;
      }
      default:
        break;
    }
  }

  /** The sync monitor's data, for tests that shape it. */
  const monitor = { passes, refused, discarded };

  /** The account as other devices change it (tests). */
  const elsewhere = {
    changePassphrase() {
      accountPassphrase = null;
    },
    /** Two-factor log-in on, wanting `code` at every log-in. */
    enableTotp(code: string) {
      totpCode = code;
    },
    sessions: () => sessions.map((x) => ({ ...x })),
  };
  return { api, afterStart, remote, emitStatus: emit, monitor, elsewhere, transfer, notebooks: books };
}
