// The real Outpost app (device A) under WebDriver, a real `outpost serve`,
// and the `outpost` CLI as a second device (B). Each step keeps a
// screenshot under $CARGO_TARGET_DIR/e2e-artifacts/test/.
//
// Run through tests/e2e/run.sh (it builds, starts the server and
// tauri-driver, and prepares A and B).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  attr,
  byId,
  cli,
  click,
  editorText,
  env,
  eventually,
  shot,
  startApp,
  text,
  typeBody,
  typeLines,
  until,
} from './lib.mjs';

const A = process.env.E2E_DEVICE_A;
const B = process.env.E2E_DEVICE_B;
const shots = path.join(env.artifacts, 'test');
let step = 0;
const snap = (browser, name) => shot(browser, shots, `${String(++step).padStart(2, '0')}-${name}`);

// Generous: the engine pushes 300 ms after the last keystroke; the first
// WebKit start on a busy 2-core machine is slow.
const T = 30_000;

const TITLE = 'Field notes from the ridge';
const BODY1 = ['Water at the north spring', 'Camp two is above the tree line', 'Radio check at six'].join('\n');
const BODY2 = `${BODY1}\nWritten while offline`;
const MINE = BODY2.replace('Camp two is above the tree line', 'Camp two moved to the saddle');
const THEIRS = BODY2.replace('Camp two is above the tree line', 'Camp two is closed for the season');
const MERGED = BODY2.replace('Camp two is above the tree line', 'Camp two moved to the saddle, closed in winter');

describe('Outpost desktop app against outpost serve and a CLI device', { concurrency: false }, () => {
  /** @type {import('webdriverio').Browser} */
  let browser;
  let noteId;
  let failed = false;

  const onB = async (args) => cli(B, args);
  const showOnB = async () => {
    await cli(B, ['sync']);
    return cli(B, ['notes', 'show', noteId, '--json'], { json: true });
  };
  const pending = async () => Number((await attr(browser, 'status-pending', 'data-count')) ?? -1);
  const badge = async () =>
    browser.execute((id) => document.querySelector(`[data-testid="note-item"][data-note-id="${id}"]`)?.dataset.sync ?? null, noteId);
  const tone = () => attr(browser, 'status-connectivity', 'data-tone');

  async function setOffline(offline) {
    if ((await browser.$(byId('network-popover')).isExisting()) === false) await click(browser, 'network-button');
    const sw = await browser.$(byId('offline-switch'));
    await sw.waitForDisplayed({ timeout: T });
    if ((await sw.isSelected()) !== offline) await sw.click();
    await until(browser, async () => (await sw.isSelected()) === offline, `the offline switch to be ${offline ? 'on' : 'off'}`, T);
  }
  async function closePopover() {
    if (await browser.$(byId('network-popover')).isExisting()) await click(browser, 'network-button');
  }
  async function waitSaved() {
    await until(browser, async () => (await attr(browser, 'save-state', 'data-state')) === 'saved', 'the note to be saved', T);
  }

  before(async () => {
    browser = await startAppA();
  });

  after(async () => {
    if (browser) {
      if (failed) await shot(browser, shots, 'failure').catch(() => {});
      await browser.deleteSession().catch(() => {});
    }
  });

  async function startAppA() {
    const b = await startApp();
    await until(b, async () => b.$(byId('app')).isExisting(), 'the app to open (no lock screen)', 60_000);
    await until(b, async () => (await attr(b, 'status-connectivity', 'data-tone')) === 'ok', 'the status bar to say Online', 60_000);
    return b;
  }

  const guard = (fn) => async (t) => {
    if (failed) return t.skip('an earlier step failed');
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      throw e;
    }
  };

  test('a. create and edit a note; it is saved, pushed, and arrives on device B', { timeout: 120_000 }, guard(async () => {
    assert.equal(await text(browser, byId('status-connectivity')).then((s) => s?.trim()), 'Online');
    assert.equal(await pending(), 0);
    await snap(browser, 'empty-online');

    await click(browser, 'new-note');
    const pane = await browser.$(byId('note-pane'));
    await pane.waitForExist({ timeout: T });
    noteId = await pane.getAttribute('data-note-id');
    assert.match(noteId, /^[0-9a-f-]{36}$/);

    const title = await browser.$(byId('note-title'));
    await title.waitForDisplayed({ timeout: T });
    await title.setValue(TITLE);
    await typeBody(browser, BODY1);
    assert.equal(await editorText(browser), BODY1, 'the editor holds what was typed');
    await waitSaved();
    assert.equal(await text(browser, byId('save-state')), 'Saved');

    // The list shows it under its title, and its badge turns synced once the engine pushed it.
    await until(browser, async () => (await badge()) === 'synced', 'the note to be synced in the list', T);
    const rowTitle = await browser.execute(
      (id) => document.querySelector(`[data-testid="note-item"][data-note-id="${id}"] [data-testid="note-item-title"]`)?.textContent,
      noteId,
    );
    assert.equal(rowTitle, TITLE);
    assert.equal(await pending(), 0);
    await snap(browser, 'note-saved-synced');

    const onBNote = await eventually(async () => {
      const n = await showOnB();
      return n.body === BODY1 && n.title === TITLE && n;
    }, 'the note on device B', T);
    assert.equal(onBNote.sync, 'synced');
  }));

  test('b. work offline: the edit stays pending on this device and never reaches the server', { timeout: 120_000 }, guard(async () => {
    await setOffline(true);
    await until(browser, async () => (await tone()) === 'off', 'the offline state in the status bar', T);
    assert.equal((await text(browser, byId('status-connectivity'))).trim(), 'Working offline');
    assert.equal(await attr(browser, 'network-button', 'class').then((c) => c.split(' ').includes('on')), true, 'the network button shows the switch is on');
    await snap(browser, 'switched-offline');
    await closePopover();

    assert.equal(await pending(), 0);
    const ed = await browser.$(byId('editor-content'));
    await ed.click();
    await browser.keys(['Control', 'End']);
    await typeLines(browser, '\nWritten while offline');
    await waitSaved();
    await until(browser, async () => (await pending()) === 1, 'the pending count to rise to 1', T);
    assert.equal((await text(browser, byId('status-pending'))).trim(), '1 pending');
    await until(browser, async () => (await badge()) === 'pending', 'the pending badge in the list', T);
    assert.equal(await editorText(browser), BODY2);
    assert.equal((await text(browser, byId('status-connectivity'))).trim(), 'Working offline');
    await snap(browser, 'offline-edit-pending');

    // Device B syncs and still has the old text: nothing left device A.
    const onBNote = await showOnB();
    assert.equal(onBNote.body, BODY1, 'the server must not have the offline edit');
    assert.equal(await pending(), 1, 'still pending after B synced');
  }));

  test('c. back online: pending drains to zero and the edit arrives on device B', { timeout: 120_000 }, guard(async () => {
    await setOffline(false);
    await until(browser, async () => (await pending()) === 0, 'pending to drain to 0', T);
    await until(browser, async () => (await tone()) === 'ok', 'the status to say Online', T);
    await until(browser, async () => (await badge()) === 'synced', 'the synced badge', T);
    assert.equal((await text(browser, byId('status-pending'))).trim(), 'Nothing pending');
    await closePopover();
    await snap(browser, 'online-drained');
    await eventually(async () => (await showOnB()).body === BODY2, 'the offline edit on device B', T);
  }));

  test('d. the same line edited on both devices: a conflict, resolved in the app, the same text on both', { timeout: 180_000 }, guard(async () => {
    // A edits the second line while offline...
    await setOffline(true);
    await until(browser, async () => (await tone()) === 'off', 'offline', T);
    await closePopover();
    await typeBody(browser, MINE);
    await waitSaved();
    await until(browser, async () => (await pending()) === 1, 'the offline edit to be pending', T);
    // ...and B changes the same line and pushes first.
    await onB(['notes', 'edit', noteId, '--body', THEIRS]);
    await onB(['sync']);
    assert.equal((await cli(B, ['notes', 'show', noteId, '--json'], { json: true })).body, THEIRS);

    await setOffline(false);
    await closePopover();
    await until(browser, async () => (await badge()) === 'conflict', 'the conflict badge in the list', T);
    await until(browser, async () => browser.$(byId('status-conflicts')).isExisting(), 'the conflict count in the status bar', T);
    assert.equal((await text(browser, byId('status-conflicts'))).trim(), '1 conflict');
    await until(browser, async () => browser.$(byId('conflict-banner')).isExisting(), 'the conflict banner on the open note', T);
    await snap(browser, 'conflict-badge');
    // Nothing lost: the note holds both versions between markers meanwhile.
    await until(browser, async () => {
      const t = await editorText(browser);
      return t.includes('Camp two moved to the saddle') && t.includes('Camp two is closed for the season') && t.includes('<<<<<<<');
    }, 'both versions in the editor', T);

    await click(browser, 'conflict-open');
    const view = await browser.$(byId('conflict-view'));
    await view.waitForExist({ timeout: T });
    assert.equal(await view.getAttribute('data-kind'), 'overlap');
    assert.match(await text(browser, byId('conflict-mine-body')), /Camp two moved to the saddle/);
    assert.match(await text(browser, byId('conflict-theirs-body')), /Camp two is closed for the season/);
    assert.match(await text(browser, byId('conflict-base-body')), /Camp two is above the tree line/);
    await snap(browser, 'conflict-view');

    // Edit and save: write the merged line by hand.
    await click(browser, 'conflict-edit');
    const merge = await browser.$(`${byId('conflict-merge-editor')} [data-testid="editor-content"]`);
    await merge.waitForDisplayed({ timeout: T });
    await merge.click();
    await browser.keys(['Control', 'a']);
    await browser.keys('Backspace');
    await typeLines(browser, MERGED);
    assert.equal(await editorText(browser, 'conflict-merge-editor'), MERGED);
    await snap(browser, 'conflict-edit-merged');
    await click(browser, 'conflict-save-merged');

    await until(browser, async () => !(await browser.$(byId('conflict-view')).isExisting()), 'the conflict view to close', T);
    await until(browser, async () => (await editorText(browser)) === MERGED, 'the merged text in the editor', T);
    await until(browser, async () => (await badge()) === 'synced', 'the note to be synced again', T);
    await until(browser, async () => !(await browser.$(byId('status-conflicts')).isExisting()), 'no open conflicts', T);
    assert.equal(await pending(), 0);
    assert.equal(await browser.$(byId('conflict-banner')).isExisting(), false);
    await snap(browser, 'conflict-resolved');

    await eventually(async () => (await showOnB()).body === MERGED, 'the merged text on device B', T);
    const conflictsOnB = await cli(B, ['conflicts', 'list', '--json'], { json: true });
    assert.equal(conflictsOnB.length, 0, 'device B has no open conflict');
  }));

  test('e. Settings > Account: the sessions, device B signed out from the app, then the account deleted, the notes kept', { timeout: 180_000 }, guard(async () => {
    const notesBefore = Number(await attr(browser, 'note-list', 'data-count'));
    await click(browser, 'settings-button');
    await until(browser, async () => (await browser.$$(byId('session'))).length === 2, 'two sessions: this device and B', T);
    const mine = await browser.$(`${byId('session')}[data-current="true"]`);
    assert.equal(await mine.$(byId('session-this')).isExisting(), true);
    await snap(browser, 'account-sessions');

    // Sign B out from here: B's next sync is refused.
    await click(browser, 'session-revoke');
    await until(browser, async () => (await browser.$$(byId('session'))).length === 1, 'only this device left', T);
    await assert.rejects(onB(['sync']));

    // Delete the account: the username typed, the passphrase.
    await click(browser, 'delete-account-open');
    await browser.$(byId('del-user')).setValue('e2e');
    await browser.$(byId('del-pass')).setValue(env.passphrase);
    await snap(browser, 'account-delete-form');
    await click(browser, 'delete-account-submit');
    await until(browser, async () => browser.$(byId('account-form')).isExisting(), 'the signed-out account form', T);
    await snap(browser, 'account-deleted');
    await click(browser, 'settings-close');
    await until(browser, async () => Number(await attr(browser, 'note-list', 'data-count')) === notesBefore, 'the notes still listed', T);
    // The server no longer knows the account.
    await assert.rejects(cli(path.join(env.work, 'after-delete'), ['account', 'login', '--server', env.serverUrl, '--user', 'e2e']));
  }));

  test('f. a [[link]] opens its note; a tag added in the editor finds the note by tag: in search; a folder imported from Settings', { timeout: 180_000 }, guard(async () => {
    // A second note that links to the first and holds a task.
    await click(browser, 'new-note');
    await until(browser, async () => (await attr(browser, 'note-pane', 'data-note-id')) !== noteId, 'the new note to open', T);
    const linkId = await attr(browser, 'note-pane', 'data-note-id');
    await browser.$(byId('note-title')).setValue('Trailhead');
    await typeBody(browser, `See [[${TITLE}]] before leaving\n- [ ] fill the bottles`);
    await waitSaved();
    await until(browser, async () => (await editorText(browser)).endsWith('- [ ] fill the bottles'), 'the link and the task in the text', T);

    // The tag editor: type a tag, Enter; it is saved with the note.
    const tagInput = await browser.$(byId('tag-input'));
    await tagInput.click();
    await typeLines(browser, 'ridge-trip\n');
    await until(browser, async () => (await browser.$$(byId('tag-chip'))).length === 1, 'the tag chip', T);
    await waitSaved();
    await snap(browser, 'tag-added');

    // Found by tag: in search, and only it.
    const search = await browser.$(byId('search-input'));
    await search.click();
    await typeLines(browser, 'tag:ridge-trip');
    await until(browser, async () => Number(await attr(browser, 'note-list', 'data-count')) === 1, 'one note found by tag', T);
    const found = await browser.execute(() => document.querySelector('[data-testid="note-item"]')?.getAttribute('data-note-id'));
    assert.equal(found, linkId);
    await snap(browser, 'found-by-tag');
    await browser.execute(() => {
      const input = document.querySelector('[data-testid="search-input"]');
      input.value = '';
      input.dispatchEvent(new InputEvent('input', { bubbles: true }));
    });
    await until(browser, async () => Number(await attr(browser, 'note-list', 'data-count')) >= 2, 'the whole list back', T);

    // The preview: the task's checkbox ticks it in the text (saved), and
    // the [[link]] opens the first note.
    await click(browser, 'preview-toggle');
    const box = await browser.$(`${byId('preview')} .task-box`);
    await box.waitForDisplayed({ timeout: T });
    await box.click();
    // The preview is drawn anew from the changed text: ask for the box again.
    await until(browser, async () => (await browser.$(`${byId('preview')} .task-box`).getAttribute('aria-checked')) === 'true', 'the task ticked in the preview', T);
    await until(browser, async () => (await editorText(browser)).endsWith('- [x] fill the bottles'), 'the task ticked in the text', T);
    await waitSaved();
    const link = await browser.$(`${byId('preview')} a.wikilink`);
    await link.waitForDisplayed({ timeout: T });
    assert.equal(await link.getText(), TITLE);
    await snap(browser, 'preview-link');
    await link.click();
    await until(browser, async () => (await attr(browser, 'note-pane', 'data-note-id')) === noteId, 'the linked note to open', T);

    // Import a folder from Settings (the picker answers E2E_IMPORT_DIR).
    const dir = process.env.E2E_IMPORT_DIR;
    fs.mkdirSync(path.join(dir, 'Trips'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'Packing list.md'), '---\ntags: [gear]\n---\n\n- [ ] stove\n- [x] map\n');
    fs.writeFileSync(path.join(dir, 'Trips', 'North loop.md'), 'Three days, two passes.');
    fs.writeFileSync(path.join(dir, 'Too big.md'), 'x'.repeat(1024 * 1024 + 10));
    const before = Number(await attr(browser, 'note-list', 'data-count'));
    await click(browser, 'settings-button');
    await click(browser, 'import-folder');
    const summary = await browser.$(byId('import-summary'));
    await summary.waitForDisplayed({ timeout: 60_000 });
    assert.equal(await text(browser, byId('import-imported')), '2 notes imported');
    assert.equal((await browser.$$(byId('import-skipped-item'))).length, 1);
    assert.match(await text(browser, byId('import-skipped')), /Too big\.md/);
    await snap(browser, 'import-summary');
    await click(browser, 'import-summary-done');
    await click(browser, 'settings-close');
    await until(browser, async () => Number(await attr(browser, 'note-list', 'data-count')) === before + 2, 'the imported notes listed', T);
  }));

  test('g. a notebook made in the sidebar, a note moved into it (a synthesized drop), found by notebook: in search, renamed; device C gets the rename', { timeout: 240_000 }, guard(async () => {
    // Step e deleted the account: create a new one from Settings, and log
    // a fresh CLI device (C) in to it.
    const C = path.join(env.work, 'device-c');
    await click(browser, 'settings-button');
    await click(browser, 'account-mode-register');
    await browser.$(byId('settings-server-url')).setValue(env.serverUrl);
    await browser.$(byId('settings-username')).setValue('e2e-notebooks');
    await browser.$(byId('settings-passphrase')).setValue(env.passphrase);
    await browser.$(byId('settings-passphrase-confirm')).setValue(env.passphrase);
    await click(browser, 'account-submit');
    await until(browser, async () => (await text(browser, byId('account-username'))) === 'e2e-notebooks', 'signed in to the new account', 60_000);
    await click(browser, 'settings-close');
    await until(browser, async () => (await tone()) === 'ok', 'the status bar to say Online', T);
    await cli(C, ['account', 'login', '--server', env.serverUrl, '--user', 'e2e-notebooks']);

    // A notebook at the top, made in the sidebar.
    await click(browser, 'notebook-all');
    await click(browser, 'notebook-new');
    const input = await browser.$(byId('notebook-input'));
    await input.waitForDisplayed({ timeout: T });
    await typeLines(browser, 'Ridge trips\n');
    const nbItem = async () =>
      browser.execute(() => {
        const el = [...document.querySelectorAll('[data-testid="notebook-item"]')].find(
          (li) => li.querySelector('[data-testid="notebook-name"]')?.textContent === 'Ridge trips',
        );
        return el ? { id: el.getAttribute('data-notebook-id'), count: el.querySelector('[data-testid="notebook-count"]')?.textContent } : null;
      });
    await until(browser, async () => (await nbItem()) !== null, 'the new notebook in the sidebar', T);
    const nbId = (await nbItem()).id;
    assert.equal((await nbItem()).count, '0');

    // Move the first note into it by dropping its row on the notebook.
    // WebKitWebDriver cannot drive an HTML5 drag (its pointer actions fire
    // no dragstart/drop), so the drag is dispatched in the page: the row's
    // own dragstart handler fills the DataTransfer, which the notebook's
    // dragover and drop handlers then read, as in a real drag.
    const dropped = await browser.execute(
      (noteId, nb) => {
        const row = document.querySelector(`[data-testid="note-item"][data-note-id="${noteId}"]`);
        const target = document.querySelector(`[data-testid="notebook-item"][data-notebook-id="${nb}"]`);
        if (!row || !target) return 'missing row or notebook';
        const dt = new DataTransfer();
        row.dispatchEvent(new DragEvent('dragstart', { bubbles: true, cancelable: true, dataTransfer: dt }));
        if (!dt.types.length) return 'the row put nothing in the drag';
        target.dispatchEvent(new DragEvent('dragenter', { bubbles: true, cancelable: true, dataTransfer: dt }));
        const over = new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: dt });
        target.dispatchEvent(over);
        if (!over.defaultPrevented) return 'the notebook refused the drag';
        target.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
        row.dispatchEvent(new DragEvent('dragend', { bubbles: true, dataTransfer: dt }));
        return 'ok';
      },
      noteId,
      nbId,
    );
    assert.equal(dropped, 'ok');
    await until(browser, async () => (await nbItem())?.count === '1', 'the notebook to count the moved note', T);
    await snap(browser, 'notebook-note-moved');

    // Found by notebook: in search, and only it.
    const search = await browser.$(byId('search-input'));
    await search.click();
    await typeLines(browser, 'notebook:"Ridge trips"');
    await until(browser, async () => Number(await attr(browser, 'note-list', 'data-count')) === 1, 'one note found by notebook:', T);
    const found = await browser.execute(() => document.querySelector('[data-testid="note-item"]')?.getAttribute('data-note-id'));
    assert.equal(found, noteId);
    await snap(browser, 'found-by-notebook');
    await click(browser, 'notebook-all');
    await until(browser, async () => Number(await attr(browser, 'note-list', 'data-count')) >= 2, 'the whole list back', T);

    // Rename it in place (double-click, type, Enter).
    await browser.$(`${byId('notebook-item')}[data-notebook-id="${nbId}"]`).doubleClick();
    const rename = await browser.$(byId('notebook-input'));
    await rename.waitForDisplayed({ timeout: T });
    await browser.keys(['Control', 'a']);
    await browser.keys('Backspace');
    await typeLines(browser, 'Ridge and pass trips\n');
    await until(browser, async () => (await browser.$(byId('notebook-input')).isExisting()) === false, 'the name field to close', T);
    await until(
      browser,
      async () =>
        (await browser.execute((id) => document.querySelector(`[data-testid="notebook-item"][data-notebook-id="${id}"] [data-testid="notebook-name"]`)?.textContent, nbId)) ===
        'Ridge and pass trips',
      'the new name in the sidebar',
      T,
    );
    await snap(browser, 'notebook-renamed');

    // Device C gets the notebook under its new name, at the top of its
    // tree (the JSON nests children), with the note in it.
    await eventually(async () => {
      await cli(C, ['sync']);
      const list = await cli(C, ['notebooks', 'list', '--json'], { json: true });
      const nb = list.find((b) => b.id === nbId);
      return nb?.name === 'Ridge and pass trips' && nb.notes === 1 && nb;
    }, 'the renamed notebook with its note on device C', 60_000);
    const noteOnC = await cli(C, ['notes', 'list', '--notebook', nbId, '--json'], { json: true });
    assert.deepEqual(noteOnC.map((n) => n.id), [noteId]);
  }));

  test('h. an image pasted into the editor is attached, shown in the preview, and arrives byte-identical on device B', { timeout: 180_000 }, guard(async () => {
    await click(browser, 'new-note');
    await until(browser, async () => (await attr(browser, 'note-pane', 'data-note-id')) !== noteId, 'the new note to open', T);
    const photoId = await attr(browser, 'note-pane', 'data-note-id');
    // Step g signed this device in to the account e2e-notebooks (step e
    // deleted the first one): a fresh CLI device (B2) logs in to it.
    await until(browser, async () => (await tone()) === 'ok', 'the status bar to say Online', 60_000);
    const B2 = path.join(env.work, 'device-b2');
    await cli(B2, ['account', 'login', '--server', env.serverUrl, '--user', 'e2e-notebooks']);
    await browser.$(byId('note-title')).setValue('Ridge photo');
    await typeBody(browser, 'The view from camp two:');
    await waitSaved();
    // A paste event carrying a PNG made in the page (a canvas), dispatched
    // on the editor's content as the WebView dispatches a real paste: the
    // WebDriver cannot reach the system clipboard. The app's own handler
    // (codemirror.ts `paste`, then `add_file`) does the rest.
    const pngBase64 = await browser.execute(() => {
      const canvas = document.createElement('canvas');
      canvas.width = 320;
      canvas.height = 180;
      const g = canvas.getContext('2d');
      const sky = g.createLinearGradient(0, 0, 0, 180);
      sky.addColorStop(0, '#7fb4e6');
      sky.addColorStop(1, '#e8f1fa');
      g.fillStyle = sky;
      g.fillRect(0, 0, 320, 180);
      g.fillStyle = '#4f6b52';
      g.beginPath();
      g.moveTo(0, 180);
      g.lineTo(90, 70);
      g.lineTo(150, 120);
      g.lineTo(220, 50);
      g.lineTo(320, 150);
      g.lineTo(320, 180);
      g.closePath();
      g.fill();
      const b64 = canvas.toDataURL('image/png').split(',')[1];
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'ridge.png', { type: 'image/png' }));
      const ev = new Event('paste', { bubbles: true, cancelable: true });
      Object.defineProperty(ev, 'clipboardData', { value: dt });
      document.querySelector('[data-testid="editor-content"]').dispatchEvent(ev);
      return b64;
    });
    const png = Buffer.from(pngBase64, 'base64');
    const sha = crypto.createHash('sha256').update(png).digest('hex');
    const ref = /!\[ridge\.png\]\(outpost-file:([0-9a-f]{64})\)/;
    await until(browser, async () => ref.test(await editorText(browser)), 'the image reference in the text', T);
    const fileId = ref.exec(await editorText(browser))[1];
    await waitSaved();

    // The preview loads it from the outpost-file protocol.
    await click(browser, 'preview-toggle');
    await until(
      browser,
      async () =>
        browser.execute(() => {
          const img = document.querySelector('[data-testid="preview"] img.file-image');
          return !!img && img.complete && img.naturalWidth === 320;
        }),
      'the image to load in the preview (naturalWidth 320)',
      T,
    );
    await snap(browser, 'image-in-preview');

    // Device B: the note references it, and the file's bytes are the same.
    const out = path.join(env.work, 'ridge-on-b.png');
    await eventually(async () => {
      await cli(B2, ['sync']);
      const files = await cli(B2, ['files', 'list', photoId, '--json'], { json: true });
      if (!files.some((f) => f.id === fileId)) return false;
      await cli(B2, ['files', 'get', fileId, '--out', out]);
      return true;
    }, 'the file on device B', 60_000, 500);
    assert.equal(crypto.createHash('sha256').update(fs.readFileSync(out)).digest('hex'), sha);
    const onBNote = await cli(B2, ['notes', 'show', photoId, '--json'], { json: true });
    assert.match(onBNote.body, ref);
    await click(browser, 'preview-toggle');
  }));

  test('i. history and trash: an older version restored reaches a second device; a deleted note is in the Trash and comes back', { timeout: 240_000 }, guard(async () => {
    // Step g signed this device in to the account e2e-notebooks: a new CLI
    // device (D) logs in to it. The list shows every note again.
    const USER = 'e2e-notebooks';
    await browser.$(byId('search-input')).clearValue();
    await click(browser, 'notebook-all');
    await until(browser, async () => (await browser.$(byId('search-input')).getValue()) === '', 'the search box empty', T);
    await until(browser, async () => (await tone()) === 'ok', 'Online', T);
    await until(browser, async () => (await pending()) === 0, 'every note uploaded', 60_000);
    const C = path.join(env.work, 'device-d');
    await cli(C, ['account', 'login', '--server', env.serverUrl, '--user', USER]);
    const showOnC = async () => {
      await cli(C, ['sync']);
      return cli(C, ['notes', 'show', noteId, '--json'], { json: true });
    };

    // A new edit of the first note, so the history has an older text to go back to.
    await browser.execute((id) => document.querySelector(`[data-testid="note-item"][data-note-id="${id}"]`)?.click(), noteId);
    await until(browser, async () => (await attr(browser, 'note-pane', 'data-note-id')) === noteId, 'the first note open', T);
    const NEWEST = `${MERGED}\nA line to take back`;
    await typeBody(browser, NEWEST);
    await waitSaved();
    await until(browser, async () => (await badge()) === 'synced', 'the edit synced', T);

    // History: the oldest version, its diff against the current text, Restore.
    await click(browser, 'note-menu');
    await click(browser, 'note-history');
    await until(browser, async () => (await browser.$$(byId('history-item'))).length >= 2, 'at least two versions', T);
    const items = await browser.$$(byId('history-item'));
    await items[items.length - 1].click();
    await until(browser, async () => (await text(browser, byId('history-restore')))?.trim() === 'Restore this version', 'the oldest version shown', T);
    // The version's text is what the diff keeps and marks removed.
    const OLD = await browser.execute(() =>
      [...document.querySelectorAll('[data-testid="history-diff"] .diff-line')]
        .filter((l) => l.dataset.kind !== 'added')
        .map((l) => [...l.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(''))
        .map((t) => (t === ' ' ? '' : t))
        .join('\n'),
    );
    assert.notEqual(OLD, NEWEST, 'the oldest version differs from the current text');
    assert.ok(OLD.includes('Water at the north spring'), `the oldest version is the note's first text: ${OLD}`);
    await snap(browser, 'history-panel');
    await click(browser, 'history-restore');
    await until(browser, async () => (await browser.$(`${byId('history-item')}[data-why="restore"]`)).isExisting(), 'a restore version on top', T);
    await click(browser, 'history-close');
    await until(browser, async () => (await editorText(browser)) === OLD, 'the restored text in the editor', T);
    await until(browser, async () => (await badge()) === 'synced', 'the restore synced', T);
    await eventually(async () => (await showOnC()).body === OLD, 'the restored text on device C', T);

    // Delete: to the trash (on C too), listed in the Trash, restored from it.
    await click(browser, 'note-menu');
    await click(browser, 'note-delete');
    await click(browser, 'note-delete-confirm');
    await until(browser, async () => (await badge()) === null, 'the note gone from the list', T);
    await until(browser, async () => (await text(browser, byId('toasts')))?.includes('Moved to the trash'), 'the trash toast', T);
    await until(browser, async () => (await pending()) === 0, 'the delete synced', T);
    await eventually(async () => {
      await cli(C, ['sync']);
      const trash = await cli(C, ['trash', 'list', '--json'], { json: true });
      return trash.some((t) => t.id === noteId);
    }, 'the note in device C\'s trash', T);
    await click(browser, 'trash-button');
    await until(browser, async () => browser.$(`${byId('trash-item')}[data-id="${noteId}"]`).isExisting(), 'the note in the Trash', T);
    await snap(browser, 'trash');
    await browser.$(`${byId('trash-item')}[data-id="${noteId}"] ${byId('trash-restore')}`).click();
    await until(browser, async () => !(await browser.$(`${byId('trash-item')}[data-id="${noteId}"]`).isExisting()), 'the note out of the Trash', T);
    await click(browser, 'trash-close');
    await until(browser, async () => (await badge()) === 'synced', 'the note back in the list, synced', T);
    await eventually(async () => {
      await cli(C, ['sync']);
      const trash = await cli(C, ['trash', 'list', '--json'], { json: true });
      return !trash.some((t) => t.id === noteId) && (await cli(C, ['notes', 'show', noteId, '--json'], { json: true })).body === OLD;
    }, 'the note back on device C', T);
  }));
});
