import { createSignal, Match, Show, Switch } from 'solid-js';
import { toApiError } from '../api/errors';
import type { Api, AppInfo, Lock } from '../api/types';
import { validateUnlock } from '../lib/account';

/** Shown before the store is open: ask for its passphrase, or a new one, or say why it cannot open. */
export function LockScreen(props: { api: Api; lock: Exclude<Lock, 'open'>; onOpen: (info: AppInfo) => void }) {
  const [pass, setPass] = createSignal('');
  const [confirm, setConfirm] = createSignal('');
  const [error, setError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);
  const isNew = () => props.lock === 'new_passphrase';
  const unavailable = () => (typeof props.lock === 'object' ? props.lock.key_unavailable.message : null);

  async function submit(e: Event) {
    e.preventDefault();
    const problem = validateUnlock(isNew(), pass(), confirm());
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const info = await props.api.unlock(pass());
      setPass('');
      setConfirm('');
      props.onOpen(info);
    } catch (err) {
      setError(toApiError(err).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="lock" data-testid="lock-screen">
      <div class="lock-card">
        <div class="brand lock-brand">Outpost</div>
        <Switch>
          <Match when={unavailable()}>
            <h1>Your notes cannot be opened right now</h1>
            <p class="callout warn" role="alert" data-testid="lock-unavailable">
              {unavailable()}
            </p>
            <p class="muted">
              Your notes are still on this device, encrypted. Outpost will not make a new key or open them unencrypted.
            </p>
          </Match>
          <Match when={true}>
            <h1>{isNew() ? 'Choose a passphrase' : 'Enter your passphrase'}</h1>
            <p class="muted">
              {isNew()
                ? 'This system has no keyring to keep the key to your notes. A passphrase will protect it instead; you will type it when Outpost starts.'
                : 'Your notes on this device are encrypted with your passphrase.'}
            </p>
            <form onSubmit={(e) => void submit(e)} novalidate>
              <div class="field">
                <label for="lock-pass">Passphrase</label>
                <input
                  id="lock-pass"
                  type="password"
                  autofocus
                  autocomplete={isNew() ? 'new-password' : 'current-password'}
                  data-testid="lock-passphrase"
                  value={pass()}
                  aria-invalid={!!error()}
                  aria-describedby={error() ? 'lock-err' : undefined}
                  onInput={(e) => setPass(e.currentTarget.value)}
                />
              </div>
              <Show when={isNew()}>
                <div class="field">
                  <label for="lock-confirm">Passphrase again</label>
                  <input
                    id="lock-confirm"
                    type="password"
                    autocomplete="new-password"
                    data-testid="lock-passphrase-confirm"
                    value={confirm()}
                    onInput={(e) => setConfirm(e.currentTarget.value)}
                  />
                </div>
                <p class="muted small">Nobody can reset it for you: keep it somewhere safe.</p>
              </Show>
              <Show when={error()}>
                <p class="field-error" id="lock-err" role="alert" data-testid="lock-error">
                  {error()}
                </p>
              </Show>
              <button type="submit" class="btn btn-primary lock-submit" disabled={busy()} data-testid="lock-submit">
                {busy() ? 'Opening…' : isNew() ? 'Create and open' : 'Unlock'}
              </button>
            </form>
          </Match>
        </Switch>
      </div>
    </div>
  );
}
