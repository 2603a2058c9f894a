// An in-memory history and trash over a map of notes, with the core's
// rules: every save is a version, a restore is a new version (none is
// rewritten), Delete moves to the trash, only a trashed note is deleted for
// good. For the history panel's and Trash view's tests and the dev fake.
import { ApiError } from '../api/errors';
import type { HistoryApi, HistorySettings, NoteVersion, VersionWhy } from '../api/history';
import type { Note } from '../api/types';

const DAY = 86_400_000;

export function fakeHistory(notes: Map<string, Note>, clock: () => number = Date.now) {
  const versions = new Map<string, NoteVersion[]>();
  const trashedAt = new Map<string, number>();
  let seq = 0;
  let settings: HistorySettings = { coalesce_minutes: 5, keep_all_days: 30, daily_until_days: 90, max_bytes_per_note: 8 << 20, trash_days: 30 };
  const calls: string[] = [];

  /** Record `note` as its newest version (made `why`, at `at`). */
  function record(note: Note, why: VersionWhy = 'edit', at = clock(), device = '00000000000a11ce'): void {
    const list = versions.get(note.id) ?? [];
    for (const v of list) v.current = false;
    const version = `${at.toString(16).padStart(12, '0')}-${(++seq).toString(16).padStart(8, '0')}-${device}`;
    list.unshift({
      note_id: note.id,
      version,
      at,
      device,
      size: 40 + note.title.length + note.body.length,
      why,
      current: true,
      title: note.title,
      body: note.body,
      tags: [...note.tags],
      pinned: note.pinned,
      trashed_at: trashedAt.get(note.id) ?? null,
    });
    versions.set(note.id, list);
  }

  function live(id: string): Note {
    const n = notes.get(id);
    if (!n || (n.deleted && !trashedAt.has(id))) throw new ApiError('note_not_found', `No note ${id}.`);
    return n;
  }

  function write(id: string, patch: Partial<Note>, why: VersionWhy): Note {
    const next = { ...live(id), ...patch, updated_at: clock() } as Note;
    notes.set(id, next);
    record(next, why);
    return next;
  }

  /** The app's Delete: to the trash (the note leaves the list). */
  function trash(id: string): void {
    live(id);
    trashedAt.set(id, clock());
    write(id, { deleted: true }, 'trash');
  }

  const api: HistoryApi = {
    async noteVersions(id) {
      live(id);
      calls.push(`versions ${id}`);
      return (versions.get(id) ?? []).map(({ version, at, device, size, why, current }) => ({ version, at, device, size, why, current }));
    },
    async noteVersion(id, version) {
      live(id);
      const v = (versions.get(id) ?? []).find((x) => x.version === version);
      if (!v) throw new ApiError('version_not_found', `Note ${id} has no version ${version}.`);
      return { ...v };
    },
    async restoreVersion(id, version) {
      calls.push(`restore ${id} ${version}`);
      const v = await api.noteVersion(id, version);
      return write(id, { title: v.title, body: v.body, tags: v.tags, pinned: v.pinned }, 'restore');
    },
    async trashList() {
      return [...trashedAt].map(([id, at]) => ({
        id,
        title: notes.get(id)!.title,
        trashed_at: at,
        purge_at: at + settings.trash_days * DAY,
        updated_at: notes.get(id)!.updated_at,
      }));
    },
    async untrashNote(id) {
      calls.push(`untrash ${id}`);
      if (!trashedAt.has(id)) throw new ApiError('not_in_trash', `Note ${id} is not in the trash.`);
      const note = write(id, { deleted: false }, 'untrash');
      trashedAt.delete(id);
      versions.get(id)![0]!.trashed_at = null;
      return note;
    },
    async deleteForGood(id) {
      calls.push(`delete ${id}`);
      if (!trashedAt.has(id)) throw new ApiError('not_in_trash', `Note ${id} is not in the trash.`);
      trashedAt.delete(id);
      versions.delete(id);
      notes.delete(id);
    },
    async emptyTrash() {
      calls.push('empty');
      const ids = [...trashedAt.keys()];
      for (const id of ids) await api.deleteForGood(id);
      return ids.length;
    },
    async getHistorySettings() {
      return { ...settings };
    },
    async setHistorySettings(s) {
      settings = { ...s };
    },
  };

  return { api, record, trash, calls, trashedAt };
}
