// @vitest-environment jsdom
// Settings > Import and export and Start over, in the whole app over the
// dev harness's core: the picker's answer imported with progress and a
// summary, a cancelled pick doing nothing, export, and Start over only
// after its warning.
import { render } from 'solid-js/web';
import { describe, expect, it } from 'vitest';
import { createFakeApi } from '../../dev/fake';
import { App } from '../App';
import { $, $$, appDom, until } from '../testing/app-dom';

const mounted = appDom();

async function openSettings(scenario: 'local' | 'many' = 'local') {
  const fake = createFakeApi({ scenario, count: 5, theme: 'light' });
  const root = document.createElement('div');
  document.body.appendChild(root);
  mounted.dispose = render(() => <App api={fake.api} />, root);
  await until(() => $$('note-item').length === 5);
  $('settings-button')!.click();
  await until(() => $('settings-transfer'));
  return fake;
}

describe('import and export', () => {
  it('imports the picked folder with progress, shows the summary, and lists the new notes', async () => {
    const fake = await openSettings();
    let progressSeen = false;
    const real = fake.api.onImportProgress.bind(fake.api);
    fake.api.onImportProgress = (cb) => real((p) => {
      progressSeen ||= p.read > 0;
      cb(p);
    });
    $('import-folder')!.click();
    await until(() => $('transfer-progress'));
    const summary = await until(() => $('import-summary'));
    expect(fake.transfer.picks).toEqual(['import_folder']);
    expect(progressSeen).toBe(true);
    expect($('import-imported')!.textContent).toBe('3 notes imported');
    expect($('import-counts')!.textContent).toBe('3 notes imported from Markdown; 1 note was already here; 1 note skipped.');
    expect($$('import-skipped-item')[0]!.textContent).toContain('the body is 2.3 MB; the limit is 1 MiB');
    expect($('import-left-out')!.textContent).toContain('beds.png');
    expect(summary.getAttribute('role')).toBe('dialog');
    $('import-summary-done')!.click();
    await until(() => !$('import-summary'));
    await until(() => $$('note-item').length === 8);
  });

  it('a cancelled picker imports nothing', async () => {
    const fake = await openSettings();
    fake.transfer.pick = null;
    $('import-file')!.click();
    await until(() => fake.transfer.picks.length === 1);
    expect(fake.transfer.picks).toEqual(['import_file']);
    expect($('import-summary')).toBeNull();
    expect($$('note-item')).toHaveLength(5);
  });

  it('exports every note to the picked folder and says how many', async () => {
    const fake = await openSettings();
    fake.transfer.pick = '/home/ada/Backup';
    $('export-all')!.click();
    expect((await until(() => $('toast-info'))).textContent).toBe('Exported 5 notes to /home/ada/Backup as Markdown with front matter.');
    expect(fake.transfer.exported).toEqual(['/home/ada/Backup']);
  });
});

describe('start over', () => {
  it('is offered to a signed-in device only, and runs only after its warning', async () => {
    await openSettings('local');
    expect($('start-over')).toBeNull();
    mounted.dispose?.();
    document.body.innerHTML = '';
    const fake = await openSettings('many');
    (await until(() => $('start-over'))).click();
    expect($('start-over-warning')!.textContent).toContain('sends every one of its notes again');
    $('start-over-cancel')!.click();
    await until(() => !$('start-over-warning'));
    expect(fake.transfer.startedOver).toBe(0);
    $('start-over')!.click();
    (await until(() => $('start-over-confirm'))).click();
    expect((await until(() => $('toast-info'))).textContent).toContain('Started over with the server: 5 notes will be sent again');
    expect(fake.transfer.startedOver).toBe(1);
  });
});
