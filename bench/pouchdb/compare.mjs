// Outpost against PouchDB replication, side by side, on the same notes.
//
//   node compare.mjs --outpost PATH/TO/outpost --corpus corpus.jsonl [--notes 10000] [--more 1000]
//
// (scripts/bench-vs-pouchdb.sh builds the CLI and the corpus and runs this.)
//
// Both sides sync through a TCP relay on loopback that counts every byte
// in each direction (HTTP headers included), so neither side's own
// accounting is trusted. PouchDB 9 replicates with `db.sync(remote)` (both
// ways, as an app would) to express-pouchdb 4.2 over memory adapters;
// Outpost's devices are `outpost` CLI processes against `outpost serve`
// (SQLite). Every note carries title, body, tags, pin and two dates on both
// sides. Workloads, each measured on its own:
//   1. first upload: device A holds the first N notes, syncs;
//   2. initial sync: a new device B syncs everything down;
//   3. one changed note: A edits one note and syncs, then B syncs;
//   4. M more notes made offline on A: A syncs (pusher's bytes both ways),
//      then B syncs.
// Time for Outpost is the sync pass's own (`elapsed_ms` in `outpost sync
// --json`; process start, store open and key derivation left out);
// PouchDB's is the replication's own time in this process.

import net from "node:net";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";

import PouchDB from "pouchdb";
import MemoryAdapter from "pouchdb-adapter-memory";
import express from "express";
import expressPouchDB from "express-pouchdb";

const run = promisify(execFile);

function args() {
  const out = { notes: 10000, more: 1000 };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, "");
    out[k] = ["notes", "more"].includes(k) ? Number(a[i + 1]) : a[i + 1];
  }
  if (!out.outpost || !out.corpus) {
    console.error("usage: node compare.mjs --outpost PATH --corpus FILE.jsonl [--notes N] [--more M]");
    process.exit(2);
  }
  return out;
}

/** A TCP relay to `port` that counts bytes each way. */
function relay(port) {
  const c = { up: 0, down: 0 };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    client.on("data", (d) => {
      c.up += d.length;
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      c.down += d.length;
      client.write(d);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: server.address().port,
        close: () => server.close(),
        take() {
          const r = { up: c.up, down: c.down };
          c.up = 0;
          c.down = 0;
          return r;
        },
      }),
    ),
  );
}

function readCorpus(file, count) {
  const lines = fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
  if (lines.length < count) throw new Error(`${file} has ${lines.length} notes; ${count} needed`);
  const now = Date.now();
  return lines.slice(0, count).map((l, i) => {
    const n = JSON.parse(l);
    return { title: n.title, body: n.body, tags: n.tags ?? [], pinned: false, created_at: now + i, updated_at: now + i };
  });
}

const fmtB = (b) => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} KB` : `${b} B`);
const ms = (t) => `${t.toFixed(0)} ms`;

/** Syncs every device until a round moves nothing but the no-op requests;
 * returns the bytes it took (reported, not counted in any workload). */
async function settle(wire, syncs) {
  const spent = { up: 0, down: 0, rounds: 0 };
  let last = Infinity;
  for (let round = 0; round < 5; round++) {
    for (const s of syncs) await s();
    const t = wire.take();
    spent.up += t.up;
    spent.down += t.down;
    spent.rounds += 1;
    if (t.up + t.down >= last) break;
    last = t.up + t.down;
  }
  return spent;
}

async function pouch(notes, more) {
  PouchDB.plugin(MemoryAdapter);
  const Mem = PouchDB.defaults({ adapter: "memory" });
  const app = express();
  app.use("/", expressPouchDB(Mem, { mode: "minimumForPouchDB", inMemoryConfig: true, logPath: path.join(os.tmpdir(), `pouch-${process.pid}.log`) }));
  const server = await new Promise((r) => {
    const s = app.listen(0, "127.0.0.1", () => r(s));
  });
  const wire = await relay(server.address().port);
  const url = `http://127.0.0.1:${wire.port}/notes`;
  const out = {};
  const a = new Mem(`a-${randomUUID()}`);
  const b = new Mem(`b-${randomUUID()}`);
  const docs = notes.map((n) => ({ _id: randomUUID(), ...n }));
  await a.bulkDocs(docs);
  const remoteA = new PouchDB(url);
  await remoteA.info(); // creates the database: not sync work
  wire.take();

  let t = performance.now();
  await a.sync(remoteA);
  out.upload = { ...wire.take(), ms: performance.now() - t };

  const remoteB = new PouchDB(url);
  t = performance.now();
  await b.sync(remoteB);
  out.initial = { ...wire.take(), ms: performance.now() - t };
  const got = await b.info();
  if (got.doc_count !== notes.length) throw new Error(`PouchDB: B has ${got.doc_count} docs, not ${notes.length}`);

  // Settle: PouchDB's next sync after a big one checks the echoes of what
  // each side just received (revs_diff of every document); that belongs to
  // the workload before, not to the next one, so it is left out.
  out.settle = await settle(wire, [() => a.sync(remoteA), () => b.sync(remoteB)]);
  const doc = await a.get(docs[0]._id);
  doc.body += "\nOne more line, typed on A.";
  doc.updated_at = Date.now();
  await a.put(doc);
  t = performance.now();
  await a.sync(remoteA);
  const pushOne = wire.take();
  await b.sync(remoteB);
  const pullOne = wire.take();
  out.one = { up: pushOne.up + pullOne.up, down: pushOne.down + pullOne.down, ms: performance.now() - t, push: pushOne, pull: pullOne };

  out.settle2 = await settle(wire, [() => a.sync(remoteA), () => b.sync(remoteB)]);
  await a.bulkDocs(more.map((n) => ({ _id: randomUUID(), ...n })));
  t = performance.now();
  await a.sync(remoteA);
  out.pushMore = { ...wire.take(), ms: performance.now() - t };
  await b.sync(remoteB);
  out.pullMore = wire.take();
  const gotMore = await b.info();
  if (gotMore.doc_count !== notes.length + more.length) throw new Error(`PouchDB: B has ${gotMore.doc_count} docs after the push`);

  wire.close();
  server.close();
  return out;
}

async function waitForHealth(port) {
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v1/health`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("outpost serve did not answer /v1/health within 30 s");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

async function outpost(bin, notes, more) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "outpost-vs-pouch-"));
  const port = await freePort();
  const server = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`, "--db", `sqlite://${dir}/server.db`], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    await waitForHealth(port);
    const wire = await relay(port);
    const serverUrl = `http://127.0.0.1:${wire.port}`;
    const env = { ...process.env, OUTPOST_PASSPHRASE: "correct horse battery staple bench" };
    const cli = async (device, ...argv) => {
      const { stdout } = await run(bin, ["--data-dir", path.join(dir, device), ...argv], { env, maxBuffer: 1 << 28 });
      return { stdout };
    };
    // One sync pass; its time is the pass's own (`elapsed_ms` of the
    // report), not the process's start, store open and key derivation.
    const sync = async (device) => {
      const { stdout } = await cli(device, "sync", "--json");
      return { ms: JSON.parse(stdout).report.elapsed_ms };
    };
    const jsonl = (name, list) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, list.map((n) => JSON.stringify({ title: n.title, body: n.body, tags: n.tags })).join("\n") + "\n");
      return f;
    };
    const out = {};
    await cli("a", "account", "register", "--server", serverUrl, "--user", "bench");
    await cli("a", "notes", "import", jsonl("first.jsonl", notes));
    wire.take();
    let r = await sync("a");
    const upload = wire.take();
    // A sync with nothing to do.
    const idle = await sync("a");
    out.idle = { ...wire.take(), ms: idle.ms };
    out.upload = { ...upload, ms: r.ms };

    await cli("b", "account", "login", "--server", serverUrl, "--user", "bench");
    wire.take();
    r = await sync("b");
    out.initial = { ...wire.take(), ms: r.ms };
    const listed = JSON.parse((await cli("b", "notes", "list", "--json")).stdout);
    if (listed.length !== notes.length) throw new Error(`Outpost: B lists ${listed.length} notes, not ${notes.length}`);

    out.settle = await settle(wire, [() => cli("a", "sync"), () => cli("b", "sync")]);
    const id = listed[0].id;
    const shown = JSON.parse((await cli("a", "notes", "show", id, "--json")).stdout);
    const bodyFile = path.join(dir, "edit.md");
    fs.writeFileSync(bodyFile, `${shown.body}\nOne more line, typed on A.`);
    await cli("a", "notes", "edit", id, "--body-file", bodyFile);
    wire.take();
    r = await sync("a");
    const pushOne = wire.take();
    const r2 = await sync("b");
    const pullOne = wire.take();
    out.one = {
      up: pushOne.up + pullOne.up,
      down: pushOne.down + pullOne.down,
      ms: r.ms + r2.ms,
      push: pushOne,
      pull: pullOne,
    };

    out.settle2 = await settle(wire, [() => cli("a", "sync"), () => cli("b", "sync")]);
    await cli("a", "notes", "import", jsonl("more.jsonl", more));
    wire.take();
    r = await sync("a");
    out.pushMore = { ...wire.take(), ms: r.ms };
    await sync("b");
    out.pullMore = wire.take();
    const after = JSON.parse((await cli("b", "notes", "list", "--json")).stdout);
    if (after.length !== notes.length + more.length) throw new Error(`Outpost: B lists ${after.length} notes after the push`);
    wire.close();
    return out;
  } finally {
    server.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const o = args();
  const all = readCorpus(o.corpus, o.notes + o.more);
  const notes = all.slice(0, o.notes);
  const more = all.slice(o.notes);
  const plaintext = notes.reduce((s, n) => s + Buffer.byteLength(n.title) + Buffer.byteLength(n.body), 0);
  console.log(`corpus: ${o.corpus}: ${notes.length} notes (${fmtB(plaintext)} of titles and bodies) + ${more.length} more`);
  const p = await pouch(notes, more);
  const q = await outpost(o.outpost, notes, more);
  const row = (name, x, y, key = "down") =>
    console.log(
      `| ${name} | ${fmtB(x.up)} up, ${fmtB(x.down)} down${x.ms !== undefined ? `, ${ms(x.ms)}` : ""} | ${fmtB(y.up)} up, ${fmtB(y.down)} down${y.ms !== undefined ? `, ${ms(y.ms)}` : ""} | ${(y[key] / x[key]).toFixed(2)}x |`,
    );
  console.log("\n| workload | PouchDB 9 | Outpost | Outpost/PouchDB (main direction) |");
  console.log("|---|---|---|---|");
  row(`first upload of ${notes.length} notes`, p.upload, q.upload, "up");
  row(`initial sync of ${notes.length} notes to a new device`, p.initial, q.initial, "down");
  row("one changed note (A pushes, B pulls; both ways summed)", p.one, q.one, "down");
  row(`push of ${more.length} notes made offline (the pusher's bytes)`, p.pushMore, q.pushMore, "up");
  row(`pull of those ${more.length} notes on the other device`, p.pullMore, q.pullMore, "down");
  const st = (x) => `${fmtB(x.settle.up + x.settle2.up)} up, ${fmtB(x.settle.down + x.settle2.down)} down`;
  console.log(`\nSettling between workloads (syncing both devices until a round moves no more; not counted above): PouchDB ${st(p)}, Outpost ${st(q)}.`);
  const echo = q.pushMore.down / q.pushMore.up;
  console.log(`\nOutpost pusher received ${(100 * echo).toFixed(1)}% of what it sent (PouchDB: ${((100 * p.pushMore.down) / p.pushMore.up).toFixed(1)}%).`);
  console.log(`Outpost sync with nothing to do: ${fmtB(q.idle.up)} up, ${fmtB(q.idle.down)} down, ${ms(q.idle.ms)}.`);
  console.log(`\nJSON: ${JSON.stringify({ pouchdb: p, outpost: q })}`);
}

main().catch((e) => {
  console.error(`compare: ${e.stack ?? e}`);
  process.exit(1);
});
