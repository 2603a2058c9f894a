// Screenshots of the main window in each state, light and dark, from the
// real app (WebKitGTK under Xvfb) against the real server run.sh started.
// Each state gets its own data directory prepared with the CLI, and its own
// app instance. Output: $CARGO_TARGET_DIR/e2e-artifacts/screenshots/.
//
//   tests/e2e/run.sh screenshots        (npm run screenshots)
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { attr, byId, cli, click, dataDir, env, isolated, shot, startApp, typeLines, until } from './lib.mjs';

const out = path.join(env.artifacts, 'screenshots');
const T = 60_000;
const only = process.env.E2E_SHOTS ? process.env.E2E_SHOTS.split(',') : null;
const taken = [];

async function setTheme(browser, theme) {
  await click(browser, 'settings-button');
  // The radio itself is visually hidden: click its label, as a user does.
  const label = await browser.$(byId(`theme-${theme}`)).$('..');
  await label.waitForClickable({ timeout: T });
  await label.click();
  await until(browser, async () => (await browser.execute(() => document.documentElement.dataset.theme ?? document.documentElement.className)).includes(theme), `the ${theme} theme`, T);
  await click(browser, 'settings-close');
  await until(browser, async () => !(await browser.$(byId('settings')).isExisting()), 'settings to close', T);
}

/** Light, then dark, of what `show` arranges (it may open a dialog; `hide` closes it before the theme changes). */
async function bothThemes(browser, name, { show = async () => {}, hide = async () => {} } = {}) {
  for (const theme of ['light', 'dark']) {
    await setTheme(browser, theme);
    await show();
    taken.push(await shot(browser, out, `${name}-${theme}`));
    await hide();
  }
}

async function session(name, dir, fn, extraEnv = {}) {
  if (only && !only.includes(name)) return;
  const t0 = Date.now();
  const browser = await startApp(isolated(dir, { OUTPOST_DATA_DIR: dir, ...extraEnv }));
  try {
    await until(browser, async () => browser.$(byId('app')).isExisting(), 'the app', T);
    await fn(browser);
  } catch (e) {
    await shot(browser, out, `${name}-FAILED`).catch(() => {});
    throw e;
  } finally {
    await browser.deleteSession().catch(() => {});
  }
  console.log(`  ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

const rowCount = (b) => attr(b, 'note-list', 'data-count').then(Number);
const openFirst = async (b) => {
  await until(b, async () => b.$(byId('note-item')).isExisting(), 'a note in the list', T);
  await b.$(byId('note-item')).click();
  await until(b, async () => b.$(byId('editor-content')).isExisting(), 'the note to open', T);
};
const online = (b) => until(b, async () => (await attr(b, 'status-connectivity', 'data-tone')) === 'ok', 'Online', T);

// A store with `n` seeded notes, signed in as `user` and synced.
async function seeded(name, user, n, { sync = true } = {}) {
  const d = dataDir(name);
  await cli(d, ['seed', '--notes', String(n), '--size', '1200', '--seed', '7']);
  await cli(d, ['account', 'register', '--server', env.serverUrl, '--user', user]);
  if (sync) await cli(d, ['sync']);
  return d;
}

// 1. Empty: the first run, no account yet.
await session('empty', dataDir('shots-empty'), async (b) => {
  await until(b, async () => b.$(byId('list-empty')).isExisting(), 'the empty list', T);
  await bothThemes(b, 'empty');
});

// 2. 10,000 notes, signed in and synced, one open.
const many = !only || only.some((s) => ['notes-10000', 'offline-pending', 'settings'].includes(s)) ? await seeded('shots-many', 'shots-many', 10_000) : null;
await session('notes-10000', many, async (b) => {
  await until(b, async () => (await rowCount(b)) === 10_000, '10,000 notes in the list', T);
  await online(b);
  await openFirst(b);
  await bothThemes(b, 'notes-10000');
});

// 3. Settings, signed in (the 10,000-note store).
await session('settings', many, async (b) => {
  await until(b, async () => (await rowCount(b)) > 0, 'the list', T);
  await openFirst(b);
  await bothThemes(b, 'settings', {
    show: async () => {
      await click(b, 'settings-button');
      await until(b, async () => b.$(byId('account-signed-in')).isExisting(), 'the signed-in account', T);
    },
    hide: async () => click(b, 'settings-close'),
  });
});

// 4. Offline with pending changes: the same store, switched offline in the app, two notes edited.
await session('offline-pending', many, async (b) => {
  await until(b, async () => (await rowCount(b)) === 10_000, 'the list', T);
  await online(b);
  await click(b, 'network-button');
  await click(b, 'offline-switch');
  await until(b, async () => (await attr(b, 'status-connectivity', 'data-tone')) === 'off', 'offline', T);
  await click(b, 'network-button');
  // Ids first: an edited note moves to the top of the list.
  const ids = await b.execute(() => [...document.querySelectorAll('[data-testid="note-item"]')].slice(0, 2).map((e) => e.dataset.noteId));
  for (const id of ids.reverse()) {
    await b.$(`[data-testid="note-item"][data-note-id="${id}"]`).click();
    await until(b, async () => (await attr(b, 'note-pane', 'data-note-id')) === id, 'the note to open', T);
    const ed = await b.$(byId('editor-content'));
    await ed.waitForDisplayed({ timeout: T });
    await ed.click();
    await b.keys(['Control', 'Home']);
    await typeLines(b, 'Checked the gear list on the train.\n\n');
    await until(b, async () => (await attr(b, 'save-state', 'data-state')) === 'saved', 'saved', T);
  }
  await until(b, async () => Number(await attr(b, 'status-pending', 'data-count')) === 2, '2 pending', T);
  await bothThemes(b, 'offline-pending');
});

// 5. Syncing: 10,000 notes on their first push, 1 s added to each request
//    (`outpost net flaky --latency 1000`), so the progress stays on screen.
if (!only || only.includes('syncing')) {
  const d = await seeded('shots-syncing', 'shots-syncing', 10_000, { sync: false });
  await cli(d, ['net', 'flaky', '--drop', '0', '--latency', '1000']);
  await session('syncing', d, async (b) => {
    await until(b, async () => b.$(byId('status-progress')).isExisting(), 'sync progress in the status bar', T);
    await openFirst(b);
    for (const theme of ['light', 'dark']) {
      await setTheme(b, theme);
      await until(b, async () => b.$(byId('status-progress')).isExisting(), 'sync progress', T);
      taken.push(await shot(b, out, `syncing-${theme}`));
    }
  });
}

// 6. Conflict view: one line changed on two devices (CLI), opened in the app.
if (!only || only.includes('conflict')) {
  const mine = await seeded('shots-conflict-a', 'shots-conflict', 40);
  const theirs = dataDir('shots-conflict-b');
  const body = [
    '# Trip plan',
    '',
    '- Leave Friday 7:00 from the station',
    '- Sleep at the Refuge du Goûter',
    '- Summit attempt Sunday before dawn',
    '',
    'Bring the spare stove and two maps.',
  ].join('\n');
  const id = (await cli(mine, ['notes', 'add', '--title', 'Mont Blanc trip', '--body', body, '--tag', 'trips'])).trim();
  await cli(mine, ['sync']);
  await cli(theirs, ['account', 'login', '--server', env.serverUrl, '--user', 'shots-conflict']);
  await cli(theirs, ['sync']);
  await cli(theirs, ['notes', 'edit', id, '--body', body.replace('Leave Friday 7:00 from the station', 'Leave Thursday night, the train is faster').replace('two maps', 'three maps')]);
  await cli(theirs, ['sync']);
  await cli(mine, ['notes', 'edit', id, '--body', body.replace('Leave Friday 7:00 from the station', 'Leave Friday 6:30, meet at the bakery')]);
  await cli(mine, ['sync']);
  await session('conflict', mine, async (b) => {
    await until(b, async () => b.$(byId('status-conflicts')).isExisting(), 'the open conflict', T);
    await click(b, 'status-conflicts');
    await until(b, async () => b.$(byId('conflict-view')).isExisting(), 'the conflict view', T);
    await bothThemes(b, 'conflict');
  });
}

// 7. Sync panel: a week of recorded passes and two changes the server
//    refused (`outpost seed --history --failed`), the rest synced.
if (!only || only.includes('sync-panel')) {
  const d = dataDir('shots-sync-panel');
  await cli(d, ['seed', '--notes', '40', '--size', '1200', '--seed', '7', '--failed', '2', '--history', '80']);
  await cli(d, ['account', 'register', '--server', env.serverUrl, '--user', 'shots-sync-panel']);
  await cli(d, ['sync']);
  await session('sync-panel', d, async (b) => {
    await until(b, async () => b.$(byId('status-failed')).isExisting(), 'the failed count', T);
    await bothThemes(b, 'sync-panel', {
      show: async () => {
        await click(b, 'sync-panel-button');
        await until(b, async () => b.$(byId('sync-passes')).isExisting(), 'the sync panel', T);
        // The dialog fades in (0.12 s), and WebKitGTK's overlay scrollbar of
        // the list just filled floats over it until it fades (about 1 s).
        await b.pause(1500);
      },
      hide: async () => {
        await click(b, 'sync-panel-close');
        await until(b, async () => !(await b.$(byId('sync-panel')).isExisting()), 'the sync panel to close', T);
      },
    });
  });
}

// 8. Settings > Account: a small store registered as "Work laptop", two
//    more devices of the account logged in with the CLI.
if (!only || only.includes('settings-account')) {
  const user = 'shots-account';
  const d = dataDir('shots-account');
  const named = (name) => ({ extraEnv: { OUTPOST_DEVICE_NAME: name } });
  await cli(d, ['seed', '--notes', '40', '--size', '1200', '--seed', '7']);
  await cli(d, ['account', 'register', '--server', env.serverUrl, '--user', user], named('Work laptop'));
  await cli(d, ['sync']);
  for (const name of ['Field phone', 'Kitchen tablet']) {
    await cli(dataDir(`shots-account-${name.split(' ')[0]}`), ['account', 'login', '--server', env.serverUrl, '--user', user], named(name));
  }
  await session('settings-account', d, async (b) => {
    await until(b, async () => (await rowCount(b)) > 0, 'the list', T);
    await bothThemes(b, 'settings-account', {
      show: async () => {
        await click(b, 'settings-button');
        await until(b, async () => (await b.$$(byId('session'))).length === 3, 'the three sessions', T);
        await click(b, 'change-passphrase-open');
      },
      hide: async () => click(b, 'settings-close'),
    });
  });
}

// 9. The tag editor with its completion, search results with the matches
//    highlighted: 40 seeded notes and three tagged ones added with the CLI.
if (!only || only.some((s) => ['tag-editor', 'search'].includes(s))) {
  const d = dataDir('shots-organise');
  await cli(d, ['seed', '--notes', '40', '--size', '1200', '--seed', '7']);
  await cli(d, ['notes', 'add', '--title', 'Ridge walk, north spring', '--body', 'Water at the north spring. The ridge path is dry after noon.\n\n- [ ] refill at the spring\n- [x] check the ridge forecast', '--tag', 'trips', '--tag', 'water']);
  await cli(d, ['notes', 'add', '--title', 'Spring planting', '--body', 'Beans along the fence, water every second evening.', '--tag', 'garden', '--tag', 'water']);
  await cli(d, ['notes', 'add', '--title', 'Trip budget', '--body', 'Train, two huts, one ridge taxi.', '--tag', 'trips', '--tag', 'travel']);
  await session('tag-editor', d, async (b) => {
    await until(b, async () => (await rowCount(b)) > 0, 'the list', T);
    await b.$('[data-testid="note-item"]').click();
    await until(b, async () => b.$(byId('tag-chip')).isExisting(), 'the note with its tags', T);
    await bothThemes(b, 'tag-editor', {
      show: async () => {
        await b.$(byId('tag-input')).click();
        await typeLines(b, 'wa');
        await until(b, async () => (await b.$$(byId('tag-suggestion'))).length > 0, 'the suggestions', T);
      },
      hide: async () => {
        // Clear what was typed (a blur would add it as a tag), then close.
        await b.keys(['Control', 'a']);
        await b.keys('Backspace');
        await b.keys('Escape');
      },
    });
  });
  await session('search', d, async (b) => {
    await until(b, async () => (await rowCount(b)) > 0, 'the list', T);
    await b.$(byId('search-input')).click();
    await typeLines(b, 'spring water');
    await until(b, async () => (await b.$$(`${byId('note-item')} mark`)).length > 0, 'highlighted matches', T);
    await b.$('[data-testid="note-item"]').click();
    await bothThemes(b, 'search');
  });
}

// 10. The import summary: a folder of Markdown notes (one over the size
//     limit) imported from Settings; the picker answers the folder
//     (OUTPOST_E2E_PICK). One store per theme, so each shows a first import.
if (!only || only.includes('import')) {
  const folder = path.join(env.work, 'shots-import-folder');
  mkdirSync(path.join(folder, 'Trips'), { recursive: true });
  writeFileSync(path.join(folder, 'Packing list.md'), '---\ntags: [gear]\n---\n\n- [ ] stove\n- [x] map\n');
  writeFileSync(path.join(folder, 'Trips', 'North loop.md'), 'Three days, two passes. See [[Packing list]].');
  writeFileSync(path.join(folder, 'Trips', 'Hut phone numbers.md'), 'Refuge: call before 18:00.');
  writeFileSync(path.join(folder, 'Scanned lease.md'), 'x'.repeat(1024 * 1024 + 10));
  for (const theme of ['light', 'dark']) {
    const d = dataDir(`shots-import-${theme}`);
    await cli(d, ['seed', '--notes', '20', '--size', '1200', '--seed', '7']);
    await session(`import`, d, async (b) => {
      await until(b, async () => (await rowCount(b)) > 0, 'the list', T);
      await setTheme(b, theme);
      await click(b, 'settings-button');
      await click(b, 'import-folder');
      await until(b, async () => b.$(byId('import-summary')).isExisting(), 'the import summary', T);
      taken.push(await shot(b, out, `import-summary-${theme}`));
    }, { OUTPOST_E2E_PICK: folder });
  }
}

// 11. The notebook sidebar: nested notebooks (three deep, one long name)
//     made with the CLI, notes filed in them, a nested notebook chosen.
if (!only || only.includes('notebooks')) {
  const d = dataDir('shots-notebooks');
  await cli(d, ['seed', '--notes', '40', '--size', '1200', '--seed', '7']);
  const tree = [
    ['Work', null],
    ['Projects', 'Work'],
    ['Outpost launch', 'Work/Projects'],
    ['Meetings', 'Work'],
    ['Personal', null],
    ['Travel', 'Personal'],
    ['Alps 2026', 'Personal/Travel'],
    ['Recipes and kitchen experiments from the long winter', 'Personal'],
    ['Reading', null],
  ];
  for (const [name, parent] of tree) await cli(d, ['notebooks', 'create', name, ...(parent ? ['--parent', parent] : [])]);
  const ids = (await cli(d, ['notes', 'list', '--json'], { json: true })).map((n) => n.id);
  const filing = ['Work/Projects/Outpost launch', 'Work/Projects', 'Work/Meetings', 'Personal/Travel/Alps 2026', 'Personal/Recipes and kitchen experiments from the long winter', 'Reading'];
  for (let i = 0; i < 18; i++) await cli(d, ['notes', 'edit', ids[i], '--notebook', filing[i % filing.length]]);
  await session('notebooks', d, async (b) => {
    await until(b, async () => (await b.$$(byId('notebook-item'))).length === tree.length, 'the notebook tree', T);
    const projects = await b.$(`${byId('notebook-item')}[title="Work/Projects"]`);
    await projects.click();
    await until(b, async () => (await rowCount(b)) === 6, 'the notes of Projects and Outpost launch', T);
    await openFirst(b);
    await bothThemes(b, 'notebooks');
  });
}

// 12. An image and a file attached to a note (`outpost files add`), the
//     note in the preview: the image from the outpost-file protocol, the
//     other file as a card.
if (!only || only.includes('attached-image')) {
  const d = dataDir('shots-files');
  await cli(d, ['seed', '--notes', '12', '--size', '1200', '--seed', '7']);
  const id = (await cli(d, ['notes', 'add', '--title', 'Ridge walk, day two', '--body', 'The view from camp two, just after seven. The saddle is clear; the north face still holds snow.\n\n'])).trim();
  const photo = path.join(env.work, 'camp-two.png');
  execFileSync('convert', ['-size', '640x300', 'gradient:#7fb4e6-#eef4fb', '-fill', '#5d7a5f', '-draw', 'polygon 0,300 150,120 260,200 380,70 520,190 640,130 640,300', '-fill', '#f4f7fa', '-draw', 'polygon 350,100 380,70 410,104 392,96 380,108 366,98', `PNG24:${photo}`]);
  const plan = path.join(env.work, 'route-plan.pdf');
  writeFileSync(plan, '%PDF-1.4\n% route plan\n' + 'x'.repeat(48 * 1024));
  await cli(d, ['files', 'add', id, photo]);
  await cli(d, ['files', 'add', id, plan]);
  await session('attached-image', d, async (b) => {
    await until(b, async () => (await rowCount(b)) > 0, 'the list', T);
    await b.$(`[data-testid="note-item"][data-note-id="${id}"]`).click();
    await until(b, async () => (await attr(b, 'note-pane', 'data-note-id')) === id, 'the note to open', T);
    await click(b, 'preview-toggle');
    const loaded = () =>
      b.execute(() => {
        const img = document.querySelector('[data-testid="preview"] img.file-image');
        return !!img && img.complete && img.naturalWidth > 0;
      });
    await until(b, loaded, 'the image in the preview', T);
    await bothThemes(b, 'attached-image', { show: async () => until(b, loaded, 'the image in the preview', T) });
  });
}

// 13. History and trash: a note edited four times (every save a version:
//     coalescing off), its history panel with an older version's diff; two
//     notes deleted, in the Trash.
if (!only || only.some((s) => ['history', 'trash'].includes(s))) {
  const d = dataDir('shots-history');
  await cli(d, ['seed', '--notes', '20', '--size', '1200', '--seed', '7']);
  await cli(d, ['retention', '--coalesce-minutes', '0']);
  const plan = ['# Hut to hut', '', '- Day 1: valley to the Refuge', '- Day 2: over the col', '- Day 3: down to the lake'];
  const id = (await cli(d, ['notes', 'add', '--title', 'Hut to hut route', '--body', plan.join('\n'), '--tag', 'trips'])).trim();
  await cli(d, ['notes', 'edit', id, '--body', [...plan, '', 'Book the Refuge by phone.'].join('\n')]);
  await cli(d, ['notes', 'edit', id, '--body', [...plan.slice(0, 3), '- Day 2: wait out the storm', '- Day 3: over the col', '- Day 4: down to the lake', '', 'Book the Refuge by phone.'].join('\n')]);
  await cli(d, ['notes', 'edit', id, '--body', [...plan.slice(0, 3), '- Day 2: wait out the storm', '- Day 3: over the col', '- Day 4: down to the lake', '', 'Booked: two nights, half board.'].join('\n')]);
  for (const title of ['Old packing list', 'Draft: letter to the club']) {
    const gone = (await cli(d, ['notes', 'add', '--title', title, '--body', 'Not needed any more.'])).trim();
    await cli(d, ['notes', 'rm', gone]);
  }
  await session('history', d, async (b) => {
    await until(b, async () => (await rowCount(b)) > 0, 'the list', T);
    await b.execute((nid) => document.querySelector(`[data-testid="note-item"][data-note-id="${nid}"]`)?.click(), id);
    await until(b, async () => (await attr(b, 'note-pane', 'data-note-id')) === id, 'the edited note open', T);
    await bothThemes(b, 'history', {
      show: async () => {
        await click(b, 'note-menu');
        await click(b, 'note-history');
        await until(b, async () => (await b.$$(byId('history-item'))).length >= 4, 'the versions', T);
        await (await b.$$(byId('history-item')))[2].click();
        await until(b, async () => (await b.$$(`${byId('history-diff')} .diff-line`)).length > 0, 'the diff', T);
      },
      hide: async () => click(b, 'history-close'),
    });
    await bothThemes(b, 'trash', {
      show: async () => {
        await click(b, 'trash-button');
        await until(b, async () => (await b.$$(byId('trash-item'))).length === 2, 'two notes in the Trash', T);
      },
      hide: async () => click(b, 'trash-close'),
    });
  });
}

writeFileSync(path.join(out, 'index.txt'), taken.map((f) => path.basename(f)).join('\n') + '\n');
console.log(`screenshots: ${taken.length} in ${out}`);
