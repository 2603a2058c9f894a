// Benchmarks of the real desktop app (debug or release binary, WebKitGTK
// under Xvfb, through tauri-driver): cold start to the first list rows with
// 10,000 notes, typing latency in a 1 MB note, memory of all the app's
// processes, and the release bundle's size when one was built.
//
//   tests/e2e/run.sh bench                 (npm run bench:app)
//   E2E_BUNDLE=1 tests/e2e/run.sh bench    (first `tauri build --bundles deb`)
//   E2E_BENCH_RUNS=5 E2E_BENCH_KEYS=200    (the defaults)
//   E2E_BENCH_START_ONLY=1                 (only the cold starts with 10,000 notes)
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { appPid, attr, byId, cli, dataDir, env, isolated, processStartMs, processTree, startApp, stats, until } from './lib.mjs';

const RUNS = Number(process.env.E2E_BENCH_RUNS ?? 5);
const KEYS = Number(process.env.E2E_BENCH_KEYS ?? 200);
const START_ONLY = process.env.E2E_BENCH_START_ONLY === '1';
const T = 120_000;
const results = { profile: env.app.includes('/release/') ? 'release' : 'debug', load: readFileSync('/proc/loadavg', 'utf8').trim(), cpus: (await import('node:os')).cpus().length };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A store with 10,000 seeded notes (2 KB typical bodies), signed in and
// synced, plus three notes for the typing test.
const dir = dataDir('bench-10000');
let t = Date.now();
await cli(dir, ['seed', '--notes', '10000', '--seed', '1']);
await cli(dir, ['account', 'register', '--server', env.serverUrl, '--user', 'bench']);
// Typing: a short note (the baseline), 1 MB of Markdown as people write it
// (paragraphs, headings, lists, separated by blank lines), and the worst
// case, 1 MB of lines with no blank line (a pasted log: one paragraph).
const words = 'offline first notes sync engine keeps every edit on the device encrypted before it leaves and merges concurrent changes line by line'.split(' ');
let wi = 0;
const sentence = (n) => {
  const w = [];
  for (let i = 0; i < n; i++) w.push(words[(wi = (wi * 7 + 3) % words.length)]);
  return `${w[0][0].toUpperCase()}${w.join(' ').slice(1)}.`;
};
let structured = '# A long document\n\n';
for (let i = 0; Buffer.byteLength(structured) < 1_000_000 - 2_000; i++) {
  if (i % 12 === 0) structured += `## Section ${i / 12 + 1}\n\n`;
  if (i % 5 === 4) structured += `- ${sentence(6)}\n- ${sentence(8)} *${sentence(3)}*\n- [a link](https://example.org/${i})\n\n`;
  else structured += `${sentence(14)} ${sentence(11)} **${sentence(4)}** ${sentence(16)}\n\n`;
}
const logLine = 'The quick brown fox jumps over the lazy dog while the *sync engine* keeps [notes](https://example.org) safe.\n';
const paragraph = `# A 1 MB log\n\n${logLine.repeat(Math.floor((1_000_000 - 20) / logLine.length))}`;
const small = `# A short note\n\n${sentence(14)} ${sentence(11)}\n\n- ${sentence(6)}\n- ${sentence(8)}\n`;
const typingNotes = {};
for (const [kind, body] of [['small', small], ['structured', structured], ['one paragraph', paragraph]]) {
  const f = path.join(env.work, 'big.md');
  writeFileSync(f, body);
  typingNotes[kind] = { id: (await cli(dir, ['notes', 'add', '--title', `Typing benchmark, ${kind}`, '--body-file', f])).trim(), bytes: Buffer.byteLength(body) };
}
await cli(dir, ['sync']);
console.log(`  store ready: 10,000 notes + the typing notes (${JSON.stringify(typingNotes)}; ${((Date.now() - t) / 1000).toFixed(1)} s)`);

// Each app start gets a fresh webview profile (no cached state from the last).
let run = 0;
const launch = (d) => startApp(isolated(path.join(env.work, `bench-profile-${run++}`), { OUTPOST_DATA_DIR: d }));

// When the app logged "store ... lock=Open" (it unlocks the store with the
// passphrase, Argon2id, before the window exists), from tauri-driver's log.
function storeOpenedAt(d) {
  const log = readFileSync(path.join(env.work, 'driver.log'), 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
  const lines = log.split('\n').filter((l) => l.includes(`store dir=${d} `) || l.endsWith(`store dir=${d}`));
  const m = /^(\S+Z)/.exec(lines.at(-1) ?? '');
  return m ? Date.parse(m[1]) : null;
}

// Sum the RSS (and PSS) of the app and every process under it
// (WebKitWebProcess, WebKitNetworkProcess), after 5 s of settling.
async function memory(pid, label) {
  let last;
  let peak = 0;
  for (let s = 0; s < 10; s++) {
    await sleep(500);
    last = processTree(pid);
    peak = Math.max(peak, last.reduce((a, p) => a + p.rssKb, 0));
  }
  const byName = {};
  for (const p of last) {
    const n = (byName[p.name] ??= { rss: 0, pss: 0 });
    n.rss += p.rssKb;
    n.pss += p.pssKb ?? 0;
  }
  const m = {
    label,
    rssMB: +(last.reduce((a, p) => a + p.rssKb, 0) / 1024).toFixed(1),
    peakRssMB: +(peak / 1024).toFixed(1),
    pssMB: +(last.reduce((a, p) => a + (p.pssKb ?? 0), 0) / 1024).toFixed(1),
    processes: Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, { rssMB: +(v.rss / 1024).toFixed(1), pssMB: +(v.pss / 1024).toFixed(1) }])),
  };
  console.log(`  memory (${label}): RSS ${m.rssMB} MB (peak ${m.peakRssMB}), PSS ${m.pssMB} MB: ${JSON.stringify(m.processes)}`);
  return m;
}

// 1. Cold start: process start (/proc/PID/stat) to the first list row found
//    in the DOM by polling through WebDriver (every ~10 ms, once the session
//    exists: WebKitWebDriver answers the new session once the page loads).
//    If rows are already there at the first look, the figure is the time to
//    that first look (an upper bound). Also: when the store was open, when
//    the page started loading (performance.timeOrigin), and when the row was
//    seen relative to that.
async function coldStart(d, selector, label, runs) {
  const out = [];
  for (let i = 0; i < runs; i++) {
    const b = await launch(d);
    const tSession = Date.now();
    let polls = 0;
    let found = null;
    while (!found) {
      polls++;
      found = await b.execute(
        (sel) => (document.querySelector(sel) ? { now: performance.now(), origin: performance.timeOrigin } : null),
        selector,
      );
      if (!found) {
        if (Date.now() - tSession > T) throw new Error(`no ${selector} within the timeout`);
        await sleep(10);
      }
    }
    const tFound = Date.now();
    const pid = appPid();
    const spawn = processStartMs(pid);
    const opened = storeOpenedAt(d);
    const r = {
      ms: tFound - spawn,
      storeOpen: opened === null ? null : opened - spawn,
      pageStart: Math.round(found.origin - spawn),
      pageToRow: Math.round(found.now),
      sessionReady: tSession - spawn,
      rowsAtFirstLook: polls === 1,
    };
    out.push(r);
    console.log(`  cold start, ${label}, ${i + 1}/${runs}: ${r.ms} ms (store open at ${r.storeOpen} ms, page load started at ${r.pageStart} ms, ${selector} ${r.pageToRow} ms after that; ${polls} polls)`);
    if (i < runs - 1) await b.deleteSession();
    else return { runs: out, ...stats(out.map((x) => x.ms)), browser: b, pid };
  }
}

// The baseline: an empty store (signed in), the same way.
const empty = dataDir('bench-empty');
await cli(empty, ['account', 'register', '--server', env.serverUrl, '--user', 'bench-empty']);
if (!START_ONLY) {
  const { browser: b, pid, ...r } = await coldStart(empty, '[data-testid="list-empty"]', 'empty store', Math.min(3, RUNS));
  results.coldStartEmpty = r;
  await until(b, async () => (await attr(b, 'status-connectivity', 'data-tone')) === 'ok', 'Online', T);
  results.memoryEmpty = await memory(pid, 'empty store');
  await b.deleteSession();
}

{
  const { browser: b, pid, ...r } = await coldStart(dir, '[data-testid="note-item"]', '10,000 notes', RUNS);
  results.coldStart = r;
  if (START_ONLY) {
    console.log(`  cold start: median ${r.median} ms, max ${r.max} ms over ${r.n} runs`);
    await b.deleteSession();
    process.exit(0);
  }
  const count = Number(await attr(b, 'note-list', 'data-count'));
  if (count < 10_000) throw new Error(`the list shows ${count} notes`);

  // 2. Memory, in the last session: the list loaded, the engine idle and
  //    online; then again with the 1 MB notes opened and typed into.
  await until(b, async () => (await attr(b, 'status-connectivity', 'data-tone')) === 'ok', 'Online', T);
  results.memory = [await memory(pid, '10,000 notes listed, idle')];

  // 3. Typing latency in a 1 MB note: keystroke (the keydown event's time
  //    stamp) to the next frame (a task posted from the next
  //    requestAnimationFrame, i.e. once that frame's style, layout and paint
  //    ran), measured in the page for each key WebDriver sends, one key per
  //    action, waiting for each to be acknowledged. At the end of the text,
  //    then at its start.
  const docLength = () => b.execute(() => document.querySelector('.cm-content')?.cmTile?.view?.state.doc.length ?? null);
  const typing = {};
  for (const [kind, { id, bytes }] of Object.entries(typingNotes)) {
    const keys = kind === 'one paragraph' ? Math.min(20, KEYS / 2) : KEYS / 2;
    const search = await b.$(byId('search-input'));
    await search.setValue(`Typing benchmark ${kind}`);
    const row = `[data-testid="note-item"][data-note-id="${id}"]`;
    await until(b, async () => b.$(row).isExisting(), `the ${kind} note in the results`, T);
    await b.$(row).click();
    await until(b, async () => (await b.$(byId('note-pane')).getAttribute('data-note-id')) === id, 'the note to open', T);
    await until(b, async () => (await docLength()) >= bytes - 100, 'the whole text in the editor', T);
    const ed = await b.$(byId('editor-content'));
    await ed.waitForDisplayed({ timeout: T });
    await ed.click();
    await b.execute(() => {
      window.__lat = [];
      if (window.__latHooked) return;
      window.__latHooked = true;
      document.addEventListener(
        'keydown',
        (e) => {
          const start = e.timeStamp > 0 && e.timeStamp <= performance.now() ? e.timeStamp : performance.now();
          requestAnimationFrame(() => {
            const ch = new MessageChannel();
            ch.port1.onmessage = () => window.__lat.push(performance.now() - start);
            ch.port2.postMessage(0);
          });
        },
        true,
      );
    });
    typing[kind] = {};
    for (const [where, key] of [['end', 'End'], ['start', 'Home']]) {
      await b.keys(['Control', key]);
      await sleep(1000);
      await b.execute(() => (window.__lat = []));
      const before = await docLength();
      for (let k = 0; k < keys; k++) await b.keys('abcdefghijklmnopqrstuvwxyz '[k % 27]);
      await until(b, async () => (await b.execute(() => window.__lat.length)) >= keys, 'every keystroke measured', T);
      const lat = await b.execute(() => window.__lat);
      const grew = (await docLength()) - before;
      if (grew !== keys) throw new Error(`${keys} keys sent but the text grew by ${grew}`);
      const st = stats(lat);
      typing[kind][where] = st;
      console.log(`  typing at the ${where} of the ${kind} note (${(bytes / 1e6).toFixed(3)} MB): median ${st.median.toFixed(1)} ms, p95 ${st.p95.toFixed(1)} ms, max ${st.max.toFixed(1)} ms (n=${st.n})`);
    }
    await until(b, async () => (await attr(b, 'save-state', 'data-state')) === 'saved', 'the big note to be saved', T);
  }
  results.typing = typing;
  results.memory.push(await memory(pid, 'after opening and typing in the 1 MB notes'));
  await b.deleteSession();
}
console.log(`  cold start: median ${results.coldStart.median} ms, max ${results.coldStart.max} ms over ${results.coldStart.n} runs (empty store: median ${results.coldStartEmpty.median} ms)`);

// 4. The release bundle, when `tauri build --bundles deb` made one.
const target = process.env.CARGO_TARGET_DIR;
const debDir = path.join(target, 'release', 'bundle', 'deb');
if (existsSync(debDir)) {
  const debs = readdirSync(debDir).filter((f) => f.endsWith('.deb'));
  const bin = path.join(target, 'release', 'outpost-app');
  results.bundle = {
    deb: debs.map((f) => ({ file: f, MB: +(statSync(path.join(debDir, f)).size / 1e6).toFixed(2) })),
    releaseBinaryMB: existsSync(bin) ? +(statSync(bin).size / 1e6).toFixed(2) : null,
  };
  console.log(`  bundle: ${JSON.stringify(results.bundle)}`);
}

writeFileSync(path.join(env.artifacts, 'bench.json'), JSON.stringify(results, null, 2) + '\n');
console.log(`bench: results in ${path.join(env.artifacts, 'bench.json')}`);
