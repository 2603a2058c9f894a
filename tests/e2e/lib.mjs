// Shared helpers for the desktop app's end-to-end tests, screenshots and
// benchmarks. run.sh starts `outpost serve` and tauri-driver and hands
// everything over in E2E_* environment variables.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { remote } from 'webdriverio';

const run = promisify(execFile);

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through tests/e2e/run.sh`);
  return v;
}

export const env = {
  outpost: need('E2E_OUTPOST'),
  app: need('E2E_APP'),
  wrapper: need('E2E_APP_WRAPPER'),
  serverUrl: need('E2E_SERVER_URL'),
  driverPort: Number(need('E2E_DRIVER_PORT')),
  work: need('E2E_WORK'),
  artifacts: need('E2E_ARTIFACTS'),
  passphrase: need('OUTPOST_PASSPHRASE'),
};

/** Run the `outpost` CLI on a data directory; returns stdout (throws with stderr on failure). */
export async function cli(dataDir, args, { json = false, extraEnv = {} } = {}) {
  try {
    const { stdout } = await run(env.outpost, ['--data-dir', dataDir, ...args], {
      env: { ...process.env, OUTPOST_PASSPHRASE: env.passphrase, ...extraEnv },
      maxBuffer: 64 * 1024 * 1024,
    });
    return json ? JSON.parse(stdout) : stdout;
  } catch (e) {
    throw new Error(`outpost ${args.join(' ')} failed (${e.code}): ${e.stderr ?? e.message}`);
  }
}

/** A fresh data directory under the run's work folder. */
export function dataDir(name) {
  const d = path.join(env.work, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/**
 * Start the app through tauri-driver. Without `vars` it runs the binary
 * itself, with the environment run.sh gave tauri-driver (device A). With
 * `vars` it runs the wrapper, which sets them and then execs the binary
 * (same process: start time and memory are the app's own).
 */
export async function startApp(vars = null) {
  const application = vars ? env.wrapper : env.app;
  const args = vars ? Object.entries(vars).map(([k, v]) => `--e2e-env=${k}=${v}`) : [];
  const browser = await remote({
    hostname: '127.0.0.1',
    port: env.driverPort,
    logLevel: 'error',
    connectionRetryCount: 0,
    connectionRetryTimeout: 120_000,
    capabilities: { 'tauri:options': { application, args } },
  });
  await browser.setTimeout({ implicit: 0 });
  return browser;
}

/** The webview's own environment for a separate instance: its storage goes under `dir`. */
export function isolated(dir, extra = {}) {
  return {
    XDG_DATA_HOME: path.join(dir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(dir, 'xdg-cache'),
    XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
    OUTPOST_PASSPHRASE: env.passphrase,
    OUTPOST_SERVER_URL: env.serverUrl,
    ...extra,
  };
}

export const byId = (id) => `[data-testid="${id}"]`;

/** Wait until `fn` returns a truthy value; poll, never a fixed sleep. */
export async function until(browser, fn, what, timeout = 20_000, interval = 100) {
  let last;
  try {
    await browser.waitUntil(
      async () => {
        last = await fn();
        return last;
      },
      { timeout, interval, timeoutMsg: `timed out after ${timeout} ms waiting for ${what}` },
    );
  } catch (e) {
    throw new Error(`${e.message} (last value: ${JSON.stringify(last)})`);
  }
  return last;
}

/** Poll a plain async condition (no browser), e.g. a CLI check. */
export async function eventually(fn, what, timeout = 20_000, interval = 250) {
  const end = Date.now() + timeout;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${lastErr?.message ?? JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** An attribute of the first element with this test id, or null when it is absent. */
export async function attr(browser, testid, name) {
  return browser.execute(
    (sel, n) => document.querySelector(sel)?.getAttribute(n) ?? null,
    byId(testid),
    name,
  );
}

export async function text(browser, selector) {
  return browser.execute((sel) => document.querySelector(sel)?.textContent ?? null, selector);
}

/** Wait two animation frames, so a screenshot shows the DOM as it is now. */
export async function frames(browser) {
  await browser.executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())));
}

/** Save a screenshot under `dir` once every finite CSS animation and
 * transition has finished (a dialog's fade-in) and two more frames are
 * drawn; returns the file. Endless ones (a spinner) are not waited for. */
export async function shot(browser, dir, name) {
  mkdirSync(dir, { recursive: true });
  await until(
    browser,
    () =>
      browser.execute(() =>
        document
          .getAnimations()
          .every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity),
      ),
    'animations to finish before a screenshot',
    10_000,
    20,
  );
  await frames(browser);
  const file = path.join(dir, `${name}.png`);
  writeFileSync(file, Buffer.from(await browser.takeScreenshot(), 'base64'));
  return file;
}

export async function click(browser, testid) {
  const el = await browser.$(byId(testid));
  await el.waitForClickable({ timeout: 15_000 });
  await el.click();
  return el;
}

/** Replace the open note's body by typing `body` into CodeMirror (select all, then keys). */
export async function typeBody(browser, body) {
  const ed = await browser.$(byId('editor-content'));
  await ed.waitForDisplayed({ timeout: 15_000 });
  await ed.click();
  await browser.keys(['Control', 'a']);
  await browser.keys('Backspace');
  await typeLines(browser, body);
}

/**
 * Type text where the caret is, one WebDriver action per character ("\n"
 * is Enter). WebKitWebDriver drops a repeated key inside one action
 * sequence ("ee" arrives as "e", and spaces vanish from an array of keys),
 * so whole strings cannot go in one `keys` call.
 */
export async function typeLines(browser, textToType) {
  for (const ch of textToType) await browser.keys(ch === '\n' ? 'Enter' : ch);
}

/** The open editor's text, as CodeMirror holds it (one .cm-line per line). */
export async function editorText(browser, testid = 'editor') {
  return browser.execute((sel) => {
    const lines = document.querySelectorAll(`${sel} .cm-line`);
    return [...lines].map((l) => l.textContent).join('\n');
  }, byId(testid));
}

/** The pid of the app process the current session started (the newest process running `exe`). */
export function appPid(exe = env.app) {
  let best = null;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0];
      if (cmd !== exe) continue;
      const start = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[19]);
      if (!best || start > best.start) best = { pid: Number(p), start };
    } catch {
      // gone meanwhile
    }
  }
  return best?.pid ?? null;
}

/**
 * A process's start time, in ms since the epoch: its start in clock ticks
 * since boot (/proc/PID/stat field 22) against the time since boot now
 * (/proc/uptime, the same clock), both to 10 ms. (/proc/stat's btime is
 * whole seconds: up to 1 s off.)
 */
export function processStartMs(pid) {
  const hz = 100; // USER_HZ: 100 on Linux x86-64 and arm64
  const ticks = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19]);
  const now = Date.now();
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return now - (uptime * 1000 - (ticks * 1000) / hz);
}

/** The process and its descendants: [{pid, name, rssKb, pssKb}]. */
export function processTree(root) {
  const children = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const name = /^Name:\s+(.*)$/m.exec(status)[1];
      const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      let pssKb = null;
      try {
        pssKb = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]);
      } catch {
        // no smaps_rollup
      }
      out.push({ pid, name, rssKb, pssKb });
    } catch {
      continue;
    }
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

export function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
  return { n: s.length, median: q(0.5), p95: q(0.95), max: s[s.length - 1], min: s[0] };
}
