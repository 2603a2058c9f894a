// @vitest-environment jsdom
// Settings > Account on a signed-out device, in the whole app over the dev
// harness's in-memory core: logging in to an account with two-factor
// log-in on. The form asks for the authenticator's code only once the core
// answers `totp_required`, checks its shape before sending, says so when
// the code is wrong, and logs in with the right one.
import { render } from 'solid-js/web';
import { describe, expect, it, vi } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import { App } from '../App';
import { $, appDom, until } from '../testing/app-dom';

const mounted = appDom();

function type(id: string, value: string) {
  const el = $(id) as HTMLInputElement;
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

const submit = () => ($('account-submit') as HTMLButtonElement).click();

async function signedOut() {
  const fake = createFakeApi({ scenario: 'local', count: 3, theme: 'light' });
  const root = document.createElement('div');
  document.body.appendChild(root);
  mounted.dispose = render(() => <App api={fake.api} />, root);
  (await until(() => $('settings-button'))).click();
  await until(() => $('account-form'));
  return fake;
}

describe('Settings > Account: log-in with two-factor log-in', () => {
  it('asks for the code when the server wants one, refuses a malformed or wrong one, then logs in', async () => {
    const fake = await signedOut();
    fake.elsewhere.enableTotp('123456');
    const logIn = vi.spyOn(fake.api, 'logIn');
    expect($('settings-totp')).toBeNull();

    type('settings-server-url', 'https://sync.example.org');
    type('settings-username', 'ada');
    type('settings-passphrase', 'correct horse battery');
    submit();
    await until(() => $('settings-totp'));
    expect($('totp-hint')!.textContent).toMatch(/6-digit code from your authenticator app/);
    expect(logIn).toHaveBeenCalledTimes(1);
    expect(logIn.mock.calls[0]![0].totpCode).toBeUndefined();
    expect($('account-error')).toBeNull();

    // Not six digits: said at once, nothing sent.
    type('settings-totp', '12ab');
    submit();
    await until(() => $('acc-totp-error'));
    expect($('acc-totp-error')!.textContent).toMatch(/6-digit code/);
    expect(logIn).toHaveBeenCalledTimes(1);

    // A wrong code: the core refuses it; the form says so and clears it.
    type('settings-totp', '000000');
    submit();
    await until(() => $('acc-totp-error')?.textContent?.includes('wrong or was used'));
    expect(logIn).toHaveBeenCalledTimes(2);
    expect(logIn.mock.calls[1]![0].totpCode).toBe('000000');
    expect(($('settings-totp') as HTMLInputElement).value).toBe('');
    expect($('account-signed-in')).toBeNull();

    // The right one (spaces as some apps show it): signed in.
    type('settings-totp', '123 456');
    submit();
    await until(() => $('account-signed-in'));
    expect(logIn).toHaveBeenCalledTimes(3);
    expect(logIn.mock.calls[2]![0]).toMatchObject({ username: 'ada', totpCode: '123456' });
  });

  it('never asks for a code on an account without two-factor log-in', async () => {
    const fake = await signedOut();
    const logIn = vi.spyOn(fake.api, 'logIn');
    type('settings-server-url', 'https://sync.example.org');
    type('settings-username', 'ada');
    type('settings-passphrase', 'correct horse battery');
    submit();
    await until(() => $('account-signed-in'));
    expect(logIn).toHaveBeenCalledTimes(1);
    expect(logIn.mock.calls[0]![0].totpCode).toBeUndefined();
  });
});
