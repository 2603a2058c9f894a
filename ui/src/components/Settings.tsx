import { createResource, createSignal, For, Show } from 'solid-js';
import { toApiError } from '../api/errors';
import type { MeteredUse, Theme } from '../api/types';
import { type AccountErrors, type AccountMode, fieldForError, validateAccountForm } from '../lib/account';
import { useApp } from '../state/context';
import { AccountManage } from './AccountManage';
import { Dialog } from './Dialog';
import { ShortcutTable } from './Help';
import { STRATEGIES } from './NotePane';
import { NetworkControls } from './NetworkControls';
import { StartOverSection, TransferSection } from './Transfer';

const THEMES: { value: Theme; label: string }[] = [
  { value: 'system', label: 'System' },
  { value: 'light', label: 'Light' },
  { value: 'dark', label: 'Dark' },
];

const METERED_USES: { value: MeteredUse; label: string; hint: string }[] = [
  { value: 'always', label: 'Sync everything', hint: 'As on Wi-Fi.' },
  {
    value: 'small_changes_only',
    label: 'Notes only, large files wait for Wi-Fi',
    hint: 'Edits sync as usual; attachments and full downloads wait for Wi-Fi.',
  },
  { value: 'never', label: 'Nothing until Wi-Fi', hint: 'Changes stay on this device until it is on Wi-Fi.' },
];

export function SettingsDialog(props: { isMac: boolean }) {
  const { api, ui, account } = useApp();
  const [about] = createResource(() => api.appInfo().catch(() => null));
  return (
    <Dialog title="Settings" testid="settings" onClose={() => ui.setSettingsOpen(false)} wide>
      <section class="settings-section" aria-labelledby="set-account">
        <h3 id="set-account">Account and sync</h3>
        <AccountSection />
      </section>

      <section class="settings-section" aria-labelledby="set-sync">
        <h3 id="set-sync">Sync on mobile data and battery</h3>
        <SyncPolicySection />
      </section>

      <section class="settings-section" aria-labelledby="set-conflicts">
        <h3 id="set-conflicts">When a note is edited on two devices</h3>
        <div class="radio-list" role="radiogroup" aria-labelledby="set-conflicts" data-testid="settings-strategy">
          <For each={STRATEGIES}>
            {(s) => (
              <label class="radio-row">
                <input
                  type="radio"
                  name="app-strategy"
                  value={s.value}
                  checked={account.strategy() === s.value}
                  data-testid={`strategy-${s.value}`}
                  onChange={() => void account.setStrategyForApp(s.value)}
                />
                <span>
                  <strong>{s.label}</strong>
                  <span class="muted block">{s.hint}</span>
                </span>
              </label>
            )}
          </For>
        </div>
        <p class="muted small">A note can have its own choice, from the ⋯ menu in the editor.</p>
      </section>

      <section class="settings-section" aria-labelledby="set-look">
        <h3 id="set-look">Appearance</h3>
        <div class="segmented" role="radiogroup" aria-labelledby="set-look" data-testid="settings-theme">
          <For each={THEMES}>
            {(t) => (
              <label class="seg" classList={{ on: account.settings().theme === t.value }}>
                <input
                  type="radio"
                  name="theme"
                  value={t.value}
                  checked={account.settings().theme === t.value}
                  data-testid={`theme-${t.value}`}
                  onChange={() => void account.setTheme(t.value)}
                />
                {t.label}
              </label>
            )}
          </For>
        </div>
      </section>

      <Show when={account.info()?.logged_in}>
        <section class="settings-section" aria-labelledby="set-start-over">
          <h3 id="set-start-over">Start over with the server</h3>
          <StartOverSection />
        </section>
      </Show>

      <section class="settings-section" aria-labelledby="set-transfer">
        <h3 id="set-transfer">Import and export</h3>
        <TransferSection />
      </section>

      <section class="settings-section" aria-labelledby="set-net">
        <h3 id="set-net">Network (for testers)</h3>
        <NetworkControls idPrefix="set" />
      </section>

      <section class="settings-section" aria-labelledby="set-keys">
        <h3 id="set-keys">Keyboard shortcuts</h3>
        <ShortcutTable isMac={props.isMac} />
      </section>

      <Show when={about()}>
        {(a) => (
          <p class="muted small about" data-testid="about">
            Outpost {a().version} · data in <span class="mono">{a().data_dir}</span>
          </p>
        )}
      </Show>
    </Dialog>
  );
}

/**
 * The sync policy: what syncs on a metered network, and whether sync waits
 * on low battery. Disabled until the core has said what is set (there is
 * nothing to show the choices against before); each change is saved at once.
 */
function SyncPolicySection() {
  const { account } = useApp();
  const policy = () => account.syncPolicy();
  return (
    <fieldset class="sync-policy" disabled={!policy()} data-testid="settings-sync-policy">
      <span class="field-label block" id="set-metered">
        On mobile data
      </span>
      <div class="radio-list" role="radiogroup" aria-labelledby="set-metered">
        <For each={METERED_USES}>
          {(m) => (
            <label class="radio-row">
              <input
                type="radio"
                name="sync-metered"
                value={m.value}
                checked={policy()?.metered === m.value}
                data-testid={`sync-metered-${m.value}`}
                onChange={() => void account.setSyncPolicy({ metered: m.value })}
              />
              <span>
                <strong>{m.label}</strong>
                <span class="muted block">{m.hint}</span>
              </span>
            </label>
          )}
        </For>
      </div>
      <label class="switch-row plain" for="set-low-battery">
        <span>
          <strong>Pause sync on low battery</strong>
          <span class="muted block">Changes stay on this device until it charges; nothing is lost.</span>
        </span>
        <input
          id="set-low-battery"
          type="checkbox"
          role="switch"
          class="switch"
          data-testid="sync-pause-low-battery"
          checked={policy()?.pause_on_low_battery ?? false}
          onChange={(e) => void account.setSyncPolicy({ pause_on_low_battery: e.currentTarget.checked })}
        />
      </label>
    </fieldset>
  );
}

function AccountSection() {
  const { sync, account } = useApp();
  const [mode, setMode] = createSignal<AccountMode>('login');
  const [serverUrl, setServerUrl] = createSignal(account.info()?.server_url ?? '');
  const [username, setUsername] = createSignal(account.info()?.username ?? '');
  const [passphrase, setPassphrase] = createSignal('');
  const [confirm, setConfirm] = createSignal('');
  const [errors, setErrors] = createSignal<AccountErrors>({});
  const [formError, setFormError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);
  const [confirmLogout, setConfirmLogout] = createSignal(false);
  // Two-factor log-in: asked for only once the server says the account
  // needs it (`totp_required`), then sent with the next attempt.
  const [totpAsked, setTotpAsked] = createSignal(false);
  const [totp, setTotp] = createSignal('');
  const [totpError, setTotpError] = createSignal<string | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setFormError(null);
    setTotpError(null);
    const r = validateAccountForm(mode(), {
      serverUrl: serverUrl(),
      username: username(),
      passphrase: passphrase(),
      confirm: confirm(),
    });
    if (!r.ok) {
      setErrors(r.errors);
      return;
    }
    setErrors({});
    const asking = mode() === 'login' && totpAsked();
    const code = totp().replace(/\s/g, '');
    if (asking && !/^\d{6}$/.test(code)) {
      setTotpError('Enter the 6-digit code your authenticator app shows for this account.');
      return;
    }
    setBusy(true);
    try {
      if (mode() === 'register') await account.register(r.creds);
      else await account.logIn(asking ? { ...r.creds, totpCode: code } : r.creds);
      setPassphrase('');
      setConfirm('');
      setTotp('');
      setTotpAsked(false);
    } catch (err) {
      const ae = toApiError(err);
      if (ae.code === 'totp_required') {
        setTotpAsked(true);
        return;
      }
      if (ae.code === 'totp_invalid') {
        setTotp('');
        setTotpError('That code is wrong or was used already. Enter the code your authenticator app shows now.');
        return;
      }
      const field = fieldForError(ae.code);
      if (field) setErrors({ [field]: ae.message });
      else setFormError(ae.message);
    } finally {
      setBusy(false);
    }
  }

  const pending = () => sync.status()?.pending ?? 0;

  const err = (k: keyof AccountErrors) => errors()[k];

  return (
    <Show
      when={!account.info()?.logged_in}
      fallback={
        <div class="account-card" data-testid="account-signed-in">
          <p>
            Signed in as <strong data-testid="account-username">{account.info()?.username}</strong> on{' '}
            <span class="mono" data-testid="account-server">
              {account.info()?.server_url}
            </span>
            .
          </p>
          <p class="muted small">Notes are encrypted on this device before they leave it; the server never sees them.</p>
          <AccountManage />
          <h4>This device</h4>
          <Show
            when={confirmLogout()}
            fallback={
              <button
                type="button"
                class="btn"
                data-testid="logout"
                onClick={() => (pending() > 0 ? setConfirmLogout(true) : void account.logOut())}
              >
                Log out
              </button>
            }
          >
            <div class="callout warn" role="alert" data-testid="logout-warning">
              <p>
                <strong>
                  {pending()} {pending() === 1 ? 'change has' : 'changes have'} not synced yet.
                </strong>{' '}
                They stay on this device and sync after you next log in. Nothing is deleted.
              </p>
              <div class="row">
                <button type="button" class="btn btn-sm" onClick={() => setConfirmLogout(false)}>
                  Cancel
                </button>
                <button
                  type="button"
                  class="btn btn-sm btn-primary"
                  data-testid="logout-confirm"
                  onClick={() => {
                    setConfirmLogout(false);
                    void account.logOut();
                  }}
                >
                  Log out, keep them here
                </button>
              </div>
            </div>
          </Show>
        </div>
      }
    >
      <p class="muted">
        Outpost works without an account: notes stay on this device. Connect a sync server to use them on your other
        devices; what you have now uploads when you connect.
      </p>
      <div class="segmented" role="tablist" aria-label="Account">
        <button
          type="button"
          role="tab"
          class="seg"
          classList={{ on: mode() === 'login' }}
          aria-selected={mode() === 'login'}
          data-testid="account-mode-login"
          onClick={() => {
            setMode('login');
            setErrors({});
          }}
        >
          Log in
        </button>
        <button
          type="button"
          role="tab"
          class="seg"
          classList={{ on: mode() === 'register' }}
          aria-selected={mode() === 'register'}
          data-testid="account-mode-register"
          onClick={() => {
            setMode('register');
            setErrors({});
          }}
        >
          Create account
        </button>
      </div>
      <form class="account-form" onSubmit={(e) => void submit(e)} novalidate data-testid="account-form">
        <Field label="Server URL" id="acc-url" error={err('serverUrl')}>
          <input
            id="acc-url"
            type="url"
            placeholder="https://sync.example.org"
            autocomplete="url"
            data-testid="settings-server-url"
            value={serverUrl()}
            aria-invalid={!!err('serverUrl')}
            aria-describedby={err('serverUrl') ? 'acc-url-err' : undefined}
            onInput={(e) => setServerUrl(e.currentTarget.value)}
          />
        </Field>
        <Field label="Username" id="acc-user" error={err('username')}>
          <input
            id="acc-user"
            autocomplete="username"
            data-testid="settings-username"
            value={username()}
            aria-invalid={!!err('username')}
            aria-describedby={err('username') ? 'acc-user-err' : undefined}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </Field>
        <Field label="Passphrase" id="acc-pass" error={err('passphrase')}>
          <input
            id="acc-pass"
            type="password"
            autocomplete={mode() === 'register' ? 'new-password' : 'current-password'}
            data-testid="settings-passphrase"
            value={passphrase()}
            aria-invalid={!!err('passphrase')}
            aria-describedby={err('passphrase') ? 'acc-pass-err' : undefined}
            onInput={(e) => setPassphrase(e.currentTarget.value)}
          />
        </Field>
        <Show when={mode() === 'register'}>
          <Field label="Passphrase again" id="acc-confirm" error={err('confirm')}>
            <input
              id="acc-confirm"
              type="password"
              autocomplete="new-password"
              data-testid="settings-passphrase-confirm"
              value={confirm()}
              aria-invalid={!!err('confirm')}
              aria-describedby={err('confirm') ? 'acc-confirm-err' : undefined}
              onInput={(e) => setConfirm(e.currentTarget.value)}
            />
          </Field>
          <p class="muted small">
            Your passphrase encrypts the key to your notes. Nobody can reset it for you: keep it somewhere safe.
          </p>
        </Show>
        <Show when={mode() === 'login' && totpAsked()}>
          <div class="field">
            <label for="acc-totp">Authenticator code</label>
            <p class="muted small" id="acc-totp-hint" data-testid="totp-hint">
              This account has two-factor log-in on: enter the 6-digit code from your authenticator app.
            </p>
            <input
              id="acc-totp"
              inputmode="numeric"
              autocomplete="one-time-code"
              maxlength="8"
              data-testid="settings-totp"
              value={totp()}
              aria-invalid={!!totpError()}
              aria-describedby={totpError() ? 'acc-totp-hint acc-totp-err' : 'acc-totp-hint'}
              onInput={(e) => setTotp(e.currentTarget.value)}
            />
            <Show when={totpError()}>
              <p class="field-error" id="acc-totp-err" data-testid="acc-totp-error">
                {totpError()}
              </p>
            </Show>
          </div>
        </Show>
        <Show when={mode() === 'login'}>
          <p class="muted small">On a second device, log in with the same username and passphrase to unlock your notes.</p>
        </Show>
        <Show when={formError()}>
          <p class="field-error" role="alert" data-testid="account-error">
            {formError()}
          </p>
        </Show>
        <div class="row">
          <button type="submit" class="btn btn-primary" disabled={busy()} data-testid="account-submit">
            {busy() ? 'Connecting…' : mode() === 'register' ? 'Create account' : 'Log in'}
          </button>
        </div>
      </form>
    </Show>
  );
}

function Field(props: { label: string; id: string; error: string | undefined; children: import('solid-js').JSX.Element }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      <Show when={props.error}>
        <p class="field-error" id={`${props.id}-err`} data-testid={`${props.id}-error`}>
          {props.error}
        </p>
      </Show>
    </div>
  );
}
