// The account and the app's settings: read from the core once the app
// starts, changed here, and written back.
import { type Accessor, createResource } from 'solid-js';
import type { AccountInfo, Api, Credentials, PassphraseChangeReport, PolicySettings, Settings, Strategy, Theme } from '../api/types';
import { SavedValue } from '../lib/saved';
import type { UiState } from './ui';

export type AccountState = ReturnType<typeof createAccount>;

export interface AccountHooks {
  /** Save what is typed: logging out waits for it. */
  flush(): Promise<void>;
  /** Now signed in to an account (maybe another one): its notes are what shows. */
  signedIn(): void;
}

const DEFAULT_SETTINGS: Settings = { theme: 'system' };

export function createAccount(api: Api, ui: UiState, hooks: AccountHooks, started: Accessor<boolean>) {
  // A failed read is said once and leaves the value as it was.
  const read =
    <T,>(f: () => Promise<T>, fallback: T, quiet = false) =>
    async (_: true, { value }: { value: T | undefined }): Promise<T> => {
      try {
        return await f();
      } catch (e) {
        if (!quiet) ui.toastError(e);
        return value ?? fallback;
      }
    };

  // Null: not known yet.
  const [account, setAccount] = createResource(started, read<AccountInfo | null>(() => api.accountInfo(), null), {
    initialValue: null,
  });
  // No initial value: the theme is applied once the core's setting is
  // known, not replaced by a default in the meantime.
  const [settings, setSettings] = createResource(started, read(() => api.getSettings(), DEFAULT_SETTINGS));
  // The app's conflict strategy; the core answers null for its default.
  const [strategy, setStrategy] = createResource(
    started,
    read<Strategy>(async () => (await api.getConflictStrategy(null)) ?? 'auto_merge', 'auto_merge', true),
    { initialValue: 'auto_merge' },
  );

  // The sync policy (mobile data, low battery). Null until the core has
  // answered, or when it could not be read: then there is nothing to show
  // the choices against, and they stay disabled.
  const policySaves: SavedValue<PolicySettings> = new SavedValue({
    save: (p) => api.setSyncPolicy(p),
    show: (p) => setPolicy.mutate(p),
    failed: (e) => ui.toastError(e),
  });
  const [policy, setPolicy] = createResource(
    started,
    read<PolicySettings | null>(async () => {
      const p = await api.getSyncPolicy();
      policySaves.known(p);
      return p;
    }, null),
    { initialValue: null },
  );

  /** Change one part of the sync policy: shown at once, saved in order, put back if refused. */
  async function setSyncPolicy(patch: Partial<PolicySettings>): Promise<void> {
    const cur = policy.latest;
    if (!cur) return;
    await policySaves.set({ ...cur, ...patch });
  }

  async function register(c: Credentials): Promise<AccountInfo> {
    const info = await api.register(c);
    setAccount.mutate(info);
    ui.toast(`Account ${info.username ?? ''} created. This device's notes will upload now.`);
    hooks.signedIn();
    return info;
  }

  async function logIn(c: Credentials): Promise<AccountInfo> {
    const info = await api.logIn(c);
    setAccount.mutate(info);
    ui.toast(`Logged in as ${info.username ?? ''}. Your notes are syncing.`);
    hooks.signedIn();
    return info;
  }

  async function logOut(): Promise<void> {
    await hooks.flush();
    try {
      const r = await api.logOut();
      const server_url = account.latest?.server_url ?? null;
      setAccount.mutate(await api.accountInfo().catch(() => ({ server_url, username: null, logged_in: false })));
      ui.toast(
        r.pending > 0
          ? `Logged out. ${r.pending} unsent ${r.pending === 1 ? 'change stays' : 'changes stay'} on this device and will sync after you log in again.`
          : 'Logged out. Your notes stay on this device.',
      );
    } catch (e) {
      ui.toastError(e);
    }
  }

  /** Throws for the form to show (wrong current passphrase, too short, changed elsewhere). */
  async function changePassphrase(current: string, next: string, keepOthers: boolean): Promise<PassphraseChangeReport> {
    const r = await api.changePassphrase(current, next, keepOthers);
    const others =
      r.sessions_ended > 0
        ? ` ${r.sessions_ended} other ${r.sessions_ended === 1 ? 'device was' : 'devices were'} signed out; log in there with the new passphrase.`
        : keepOthers
          ? ' Other devices stay signed in and ask for it at their next log-in.'
          : '';
    const local =
      r.local === 'rewrapped'
        ? ' This device now unlocks with it too.'
        : r.local === 'failed'
          ? ' This device could not save it and still unlocks with the old passphrase.'
          : '';
    ui.toast(`Passphrase changed.${others}${local}`);
    return r;
  }

  /**
   * Delete the account on the server. Sync stops and the device shows as
   * signed out; the notes stay here. Throws for the form to show.
   */
  async function deleteAccount(username: string, passphrase: string): Promise<void> {
    await hooks.flush();
    const r = await api.deleteAccount(username, passphrase);
    const server_url = account.latest?.server_url ?? null;
    setAccount.mutate(await api.accountInfo().catch(() => ({ server_url, username: null, logged_in: false })));
    ui.toast(
      `Account ${username} deleted. ${r.notes_kept} ${r.notes_kept === 1 ? 'note stays' : 'notes stay'} on this device, no longer synced.`,
    );
  }

  async function setTheme(theme: Theme): Promise<void> {
    const next = { ...(settings.latest ?? DEFAULT_SETTINGS), theme };
    setSettings.mutate(next);
    try {
      await api.setSettings(next);
    } catch (e) {
      ui.toastError(e);
    }
  }

  async function setStrategyForApp(s: Strategy): Promise<void> {
    try {
      await api.setConflictStrategy(null, s);
      setStrategy.mutate(s);
    } catch (e) {
      ui.toastError(e);
    }
  }

  return {
    /** Null until the core has answered. */
    info: (): AccountInfo | null => account.latest,
    /** Undefined until the core has answered (the cached theme shows meanwhile). */
    loadedSettings: (): Settings | undefined => settings.latest,
    settings: (): Settings => settings.latest ?? DEFAULT_SETTINGS,
    strategy: (): Strategy => strategy.latest ?? 'auto_merge',
    /** Null until the core has answered (or if it could not be read). */
    syncPolicy: (): PolicySettings | null => policy.latest,
    setSyncPolicy,
    register,
    logIn,
    logOut,
    changePassphrase,
    deleteAccount,
    setTheme,
    setStrategyForApp,
  };
}
