// Settings > Account on a signed-in device: the account's sessions (one per
// signed-in device) with sign-out of one or all others, the passphrase
// change, and account deletion. Each form checks what it can before asking
// the core and shows the core's refusals next to the field they concern.
import { createResource, createSignal, For, type JSX, Show } from 'solid-js';
import { toApiError } from '../api/errors';
import type { AccountSession } from '../api/types';
import {
  type DeleteErrors,
  deleteError,
  type PassphraseErrors,
  passphraseChangeError,
  sessionError,
  sessionLine,
  sessionName,
  sortSessions,
  validateDelete,
  validatePassphraseChange,
} from '../lib/manage';
import { fullTime } from '../lib/time';
import { useApp } from '../state/context';

export function AccountManage() {
  return (
    <>
      <SessionsList />
      <ChangePassphrase />
      <DeleteAccount />
    </>
  );
}

function SessionsList() {
  const { api, ui } = useApp();
  const [error, setError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal<string | null>(null);
  const [sessions, { refetch, mutate }] = createResource(async (): Promise<AccountSession[] | null> => {
    try {
      const list = sortSessions(await api.listSessions());
      setError(null);
      return list;
    } catch (e) {
      const ae = toApiError(e);
      setError(sessionError(ae.code, ae.message));
      return null;
    }
  });
  const others = () => (sessions.latest ?? []).filter((s) => !s.current);

  async function revoke(s: AccountSession) {
    setBusy(s.id);
    try {
      await api.revokeSession(s.id);
      mutate((l) => l?.filter((x) => x.id !== s.id) ?? null);
      ui.toast(`${sessionName(s)} is signed out. Its notes stay on it.`);
    } catch (e) {
      const ae = toApiError(e);
      if (ae.code === 'session_not_found') mutate((l) => l?.filter((x) => x.id !== s.id) ?? null);
      ui.toast(sessionError(ae.code, ae.message), 'error', ae.code);
    } finally {
      setBusy(null);
    }
  }

  async function revokeOthers() {
    setBusy('others');
    try {
      const n = await api.revokeOtherSessions();
      mutate((l) => l?.filter((x) => x.current) ?? null);
      ui.toast(n === 0 ? 'No other device was signed in.' : `${n} other ${n === 1 ? 'device is' : 'devices are'} signed out.`);
    } catch (e) {
      const ae = toApiError(e);
      ui.toast(sessionError(ae.code, ae.message), 'error', ae.code);
    } finally {
      setBusy(null);
    }
  }

  return (
    <div class="account-block" data-testid="sessions">
      <h4>Signed-in devices</h4>
      <Show when={error()}>
        <div class="callout warn" role="alert" data-testid="sessions-error">
          <p>{error()}</p>
          <button type="button" class="btn btn-sm" onClick={() => void refetch()}>
            Try again
          </button>
        </div>
      </Show>
      <Show when={sessions.loading && !sessions.latest}>
        <p class="muted small">Loading…</p>
      </Show>
      <ul class="sessions" aria-label="Signed-in devices">
        <For each={sessions.latest ?? []}>
          {(s) => (
            <li class="session" data-testid="session" data-current={s.current ? 'true' : undefined}>
              <span class="session-text">
                <strong data-testid="session-name">{sessionName(s)}</strong>
                <Show when={s.current}>
                  <span class="chip" data-testid="session-this">
                    This device
                  </span>
                </Show>
                <span class="muted small block" title={`Signed in ${fullTime(s.created_at_ms)}; last seen ${fullTime(s.last_seen_at_ms)}`}>
                  {sessionLine(s, ui.now())}
                </span>
              </span>
              <Show when={!s.current}>
                <button
                  type="button"
                  class="btn btn-sm"
                  data-testid="session-revoke"
                  disabled={busy() !== null}
                  aria-label={`Sign out ${sessionName(s)}`}
                  onClick={() => void revoke(s)}
                >
                  {busy() === s.id ? 'Signing out…' : 'Sign out'}
                </button>
              </Show>
            </li>
          )}
        </For>
      </ul>
      <Show when={others().length > 0}>
        <button type="button" class="btn btn-sm" data-testid="sessions-revoke-others" disabled={busy() !== null} onClick={() => void revokeOthers()}>
          {busy() === 'others' ? 'Signing out…' : 'Sign out all other devices'}
        </button>
      </Show>
    </div>
  );
}

function ChangePassphrase() {
  const { account } = useApp();
  const [open, setOpen] = createSignal(false);
  const [current, setCurrent] = createSignal('');
  const [next, setNext] = createSignal('');
  const [repeat, setRepeat] = createSignal('');
  const [keep, setKeep] = createSignal(false);
  const [errors, setErrors] = createSignal<PassphraseErrors>({});
  const [formError, setFormError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);

  function reset() {
    setCurrent('');
    setNext('');
    setRepeat('');
    setKeep(false);
    setErrors({});
    setFormError(null);
  }

  async function submit(e: Event) {
    e.preventDefault();
    setFormError(null);
    const errs = validatePassphraseChange({ current: current(), next: next(), repeat: repeat() });
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      await account.changePassphrase(current(), next(), keep());
      reset();
      setOpen(false);
    } catch (err) {
      const ae = toApiError(err);
      const r = passphraseChangeError(ae.code, ae.message);
      if (r.field) setErrors({ [r.field]: r.message });
      else setFormError(r.message);
    } finally {
      setBusy(false);
    }
  }

  const err = (k: keyof PassphraseErrors) => errors()[k];

  return (
    <div class="account-block" data-testid="change-passphrase">
      <h4>Passphrase</h4>
      <Show
        when={open()}
        fallback={
          <button type="button" class="btn btn-sm" data-testid="change-passphrase-open" onClick={() => setOpen(true)}>
            Change passphrase…
          </button>
        }
      >
        <form class="account-form" novalidate onSubmit={(e) => void submit(e)} data-testid="change-passphrase-form">
          <PassField id="pp-current" label="Current passphrase" auto="current-password" value={current()} set={setCurrent} error={err('current')} />
          <PassField id="pp-new" label="New passphrase" auto="new-password" value={next()} set={setNext} error={err('next')} />
          <PassField id="pp-repeat" label="New passphrase again" auto="new-password" value={repeat()} set={setRepeat} error={err('repeat')} />
          <label class="check-row">
            <input type="checkbox" data-testid="pp-keep" checked={keep()} onChange={(e) => setKeep(e.currentTarget.checked)} />
            <span>
              Keep my other devices signed in
              <span class="muted block small">Otherwise they are signed out and ask for the new passphrase.</span>
            </span>
          </label>
          <p class="muted small">Your notes are not re-encrypted; only the key to them is locked anew. Nobody can reset it for you.</p>
          <Show when={formError()}>
            <p class="field-error" role="alert" data-testid="change-passphrase-error">
              {formError()}
            </p>
          </Show>
          <div class="row">
            <button
              type="button"
              class="btn btn-sm"
              onClick={() => {
                reset();
                setOpen(false);
              }}
            >
              Cancel
            </button>
            <button type="submit" class="btn btn-sm btn-primary" disabled={busy()} data-testid="change-passphrase-submit">
              {busy() ? 'Changing…' : 'Change passphrase'}
            </button>
          </div>
        </form>
      </Show>
    </div>
  );
}

function DeleteAccount() {
  const { account } = useApp();
  const [open, setOpen] = createSignal(false);
  const [username, setUsername] = createSignal('');
  const [passphrase, setPassphrase] = createSignal('');
  const [errors, setErrors] = createSignal<DeleteErrors>({});
  const [formError, setFormError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);
  const name = () => account.info()?.username ?? '';

  async function submit(e: Event) {
    e.preventDefault();
    setFormError(null);
    const errs = validateDelete({ username: username(), passphrase: passphrase() }, name());
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      await account.deleteAccount(username().trim(), passphrase());
    } catch (err) {
      const ae = toApiError(err);
      const r = deleteError(ae.code, ae.message);
      if (r.field) setErrors({ [r.field]: r.message });
      else setFormError(r.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="account-block" data-testid="delete-account">
      <h4>Delete account</h4>
      <Show
        when={open()}
        fallback={
          <button type="button" class="btn btn-sm btn-danger" data-testid="delete-account-open" onClick={() => setOpen(true)}>
            Delete account…
          </button>
        }
      >
        <form class="account-form callout warn" novalidate onSubmit={(e) => void submit(e)} data-testid="delete-account-form">
          <p>
            <strong>This deletes the account and everything the server keeps for it</strong>, for all your devices. The notes
            on this device stay here, unsynced; other devices keep theirs too and stop syncing.
          </p>
          <div class="field">
            <label for="del-user">
              Type <span class="mono">{name()}</span> to confirm
            </label>
            <input
              id="del-user"
              autocomplete="off"
              data-testid="del-user"
              value={username()}
              aria-invalid={!!errors().username}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
            <Show when={errors().username}>
              <p class="field-error" data-testid="del-user-error">
                {errors().username}
              </p>
            </Show>
          </div>
          <PassField id="del-pass" label="Passphrase" auto="current-password" value={passphrase()} set={setPassphrase} error={errors().passphrase} />
          <Show when={formError()}>
            <p class="field-error" role="alert" data-testid="delete-account-error">
              {formError()}
            </p>
          </Show>
          <div class="row">
            <button type="button" class="btn btn-sm" onClick={() => setOpen(false)}>
              Cancel
            </button>
            <button type="submit" class="btn btn-sm btn-danger" disabled={busy()} data-testid="delete-account-submit">
              {busy() ? 'Deleting…' : 'Delete account'}
            </button>
          </div>
        </form>
      </Show>
    </div>
  );
}

function PassField(props: { id: string; label: string; auto: string; value: string; set: (v: string) => void; error: string | undefined }): JSX.Element {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="password"
        autocomplete={props.auto}
        data-testid={props.id}
        value={props.value}
        aria-invalid={!!props.error}
        aria-describedby={props.error ? `${props.id}-err` : undefined}
        onInput={(e) => props.set(e.currentTarget.value)}
      />
      <Show when={props.error}>
        <p class="field-error" id={`${props.id}-err`} data-testid={`${props.id}-error`}>
          {props.error}
        </p>
      </Show>
    </div>
  );
}
