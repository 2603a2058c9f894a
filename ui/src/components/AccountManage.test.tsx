// @vitest-environment jsdom
// Settings > Account on a signed-in device, in the whole app over the dev
// harness's in-memory core: the sessions list with sign-out of one and of
// all others, the passphrase change with the core's refusals, and account
// deletion, after which the app shows the signed-out state and the notes.
import { render } from 'solid-js/web';
import { describe, expect, it, vi } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import { App } from '../App';
import { $, $$, appDom, until } from '../testing/app-dom';

const mounted = appDom();

async function openSettings() {
  const fake = createFakeApi({ scenario: 'many', count: 5, theme: 'light' });
  const root = document.createElement('div');
  document.body.appendChild(root);
  mounted.dispose = render(() => <App api={fake.api} />, root);
  (await until(() => $('settings-button'))).click();
  await until(() => $$('session').length === 3);
  return fake;
}

function type(id: string, value: string) {
  const el = $(id) as HTMLInputElement;
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

const submit = (id: string) => ($(id) as HTMLButtonElement).click();

describe('Settings > Account', () => {
  it('lists the sessions with this device first, signs one out, then all the others', async () => {
    const fake = await openSettings();
    const rows = $$('session');
    expect($('session-name', rows[0]!)!.textContent).toBe('ada-laptop');
    expect($('session-this', rows[0]!)).not.toBeNull();
    expect($('session-revoke', rows[0]!)).toBeNull();
    expect(rows[1]!.textContent).toContain('Pixel 8');
    expect(rows[1]!.textContent).toContain('active 3 h ago');
    expect(rows[2]!.textContent).toContain('Unnamed device');

    $('session-revoke', rows[1]!)!.click();
    await until(() => $$('session').length === 2);
    await until(() => document.body.textContent?.includes('Pixel 8 is signed out. Its notes stay on it.'));
    expect(fake.elsewhere.sessions().map((s) => s.device_name)).toEqual(['ada-laptop', null]);

    $('sessions-revoke-others')!.click();
    await until(() => $$('session').length === 1);
    expect(fake.elsewhere.sessions()).toHaveLength(1);
    expect($('sessions-revoke-others')).toBeNull();
  });

  it('changes the passphrase, showing wrong current, too short and changed elsewhere clearly', async () => {
    const fake = await openSettings();
    const change = vi.spyOn(fake.api, 'changePassphrase');
    $('change-passphrase-open')!.click();
    await until(() => $('change-passphrase-form'));

    // Checked before asking the core.
    type('pp-current', 'correct horse battery');
    type('pp-new', 'short');
    type('pp-repeat', 'short');
    submit('change-passphrase-submit');
    await until(() => $('pp-new-error'));
    expect($('pp-new-error')!.textContent).toMatch(/at least 8 characters/);
    expect(change).not.toHaveBeenCalled();

    type('pp-current', 'wrong passphrase');
    type('pp-new', 'a brand new passphrase');
    type('pp-repeat', 'a brand new passphrase');
    submit('change-passphrase-submit');
    await until(() => $('pp-current-error'));
    expect($('pp-current-error')!.textContent).toMatch(/not the account’s current passphrase/);

    fake.elsewhere.changePassphrase();
    type('pp-current', 'correct horse battery');
    submit('change-passphrase-submit');
    await until(() => $('change-passphrase-error'));
    expect($('change-passphrase-error')!.textContent).toMatch(/changed on another device/);
    expect(change).toHaveBeenCalledTimes(2);
  });

  it('a change keeps the other devices signed in when asked, and says what happened', async () => {
    const fake = await openSettings();
    $('change-passphrase-open')!.click();
    await until(() => $('change-passphrase-form'));
    type('pp-current', 'correct horse battery');
    type('pp-new', 'a brand new passphrase');
    type('pp-repeat', 'a brand new passphrase');
    ($('pp-keep') as HTMLInputElement).click();
    submit('change-passphrase-submit');
    await until(() => !$('change-passphrase-form'));
    await until(() => document.body.textContent?.includes('Passphrase changed. Other devices stay signed in'));
    expect(fake.elsewhere.sessions()).toHaveLength(3);
  });

  it('deletes the account after the username and passphrase, then shows the signed-out state with the notes kept', async () => {
    const fake = await openSettings();
    const del = vi.spyOn(fake.api, 'deleteAccount');
    $('delete-account-open')!.click();
    await until(() => $('delete-account-form'));
    expect($('delete-account-form')!.textContent).toMatch(/notes\s+on this device stay here/);

    type('del-user', 'ad');
    type('del-pass', 'correct horse battery');
    submit('delete-account-submit');
    await until(() => $('del-user-error'));
    expect($('del-user-error')!.textContent).toBe('Type ada to confirm.');
    expect(del).not.toHaveBeenCalled();

    type('del-user', 'ada');
    type('del-pass', 'nope');
    submit('delete-account-submit');
    await until(() => $('del-pass-error'));
    expect($('del-pass-error')!.textContent).toBe('Wrong passphrase. Nothing was deleted.');
    expect((await fake.api.accountInfo()).logged_in).toBe(true);

    type('del-pass', 'correct horse battery');
    submit('delete-account-submit');
    await until(() => $('account-form'));
    expect($('account-signed-in')).toBeNull();
    await until(() => document.body.textContent?.includes('Account ada deleted. 5 notes stay on this device'));
    expect($$('note-item').length).toBe(5);
  });
});
