// The only module that talks to Tauri. Command and argument names follow the
// shell's contract (snake_case commands; Tauri turns snake_case Rust
// arguments into camelCase keys, so `note_id` is passed as `noteId`).
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { getCurrentWindow } from '@tauri-apps/api/window';
import { toApiError } from './errors';
import type { Api, SyncStatus } from './types';

export * from './types';
export { ApiError, toApiError } from './errors';

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toApiError(e);
  }
}

/** Longest a window close waits for the last save. */
const CLOSE_FLUSH_LIMIT_MS = 2000;

export const tauriApi: Api = {
  appInfo: () => call('app_info'),
  unlock: (passphrase) => call('unlock', { passphrase }),
  listNotes: () => call('list_notes'),
  searchNotes: (query) => call('search_notes', { query }),
  getNote: (id) => call('get_note', { id }),
  createNote: (draft) => call('create_note', { draft }),
  updateNote: (id, patch) => call('update_note', { id, patch }),
  deleteNote: async (id) => {
    await call('delete_note', { id });
  },
  listConflicts: () => call('list_conflicts'),
  resolveConflict: (id, resolution) => call('resolve_conflict', { id, resolution }),
  getConflictStrategy: (noteId) => call('get_conflict_strategy', { noteId }),
  setConflictStrategy: async (noteId, strategy) => {
    await call('set_conflict_strategy', { noteId, strategy });
  },
  syncStatus: () => call('sync_status'),
  syncNow: async () => {
    await call('sync_now');
  },
  approveMassDelete: async () => {
    await call('approve_mass_delete');
  },
  setNetwork: async (mode) => {
    await call('set_network', { mode });
  },
  accountInfo: () => call('account_info'),
  register: ({ serverUrl, username, passphrase }) => call('register', { serverUrl, username, passphrase }),
  logIn: ({ serverUrl, username, passphrase }) => call('log_in', { serverUrl, username, passphrase }),
  logOut: () => call('log_out'),
  getSettings: () => call('get_settings'),
  setSettings: async (settings) => {
    await call('set_settings', { settings });
  },
  onSyncStatus: async (cb) => listen<SyncStatus>('sync-status', (e) => cb(e.payload)),
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
