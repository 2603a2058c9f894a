//! Shared helpers for the CLI tests: run the real `outpost` binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const PASS: &str = "correct horse battery staple";

pub fn outpost(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_outpost"));
    c.arg("--data-dir").arg(dir).env("OUTPOST_PASSPHRASE", PASS).env_remove("OUTPOST_DATA_DIR");
    c
}

pub fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = outpost(dir).args(args).output().expect("run outpost");
    assert!(out.status.success(), "outpost {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// A command's `--json` output, parsed.
pub fn json(d: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&run_ok(d, args)).expect("json output")
}

/// The titles of the store's notes, sorted.
pub fn titles(d: &Path) -> Vec<String> {
    let mut t: Vec<String> = json(d, &["notes", "list", "--json"])
        .as_array()
        .expect("array")
        .iter()
        .map(|n| n["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    t.sort();
    t
}

pub fn run(dir: &Path, args: &[&str]) -> Output {
    outpost(dir).args(args).output().expect("run outpost")
}

pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).expect("read")))
        .collect();
    v.sort();
    v
}

/// A real `outpost serve` on a free 127.0.0.1 port, killed on drop; its
/// debug log goes to `server.log` in its directory.
pub struct Server {
    child: Child,
    pub url: String,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_server(dir: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    start_server_on(dir, addr)
}

/// [`start_server`] on a given address (a server that comes back where it
/// was). Its log is appended to.
pub fn start_server_on(dir: &Path, addr: SocketAddr) -> Server {
    start_server_with(dir, addr, &[])
}

/// [`start_server_on`] with more `outpost serve` options.
pub fn start_server_with(dir: &Path, addr: SocketAddr, options: &[&str]) -> Server {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("--data-dir")
        .arg(dir)
        .args(["--log", "debug", "serve", "--listen", &addr.to_string()])
        .args(options)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn outpost serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "outpost serve did not start listening on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, url: format!("http://{addr}"), addr }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A counter from the server's Prometheus metrics (plain HTTP/1.0).
    pub fn metric(&self, name: &str) -> u64 {
        let mut s = TcpStream::connect(self.addr).expect("connect");
        s.write_all(b"GET /metrics HTTP/1.0\r\nhost: localhost\r\n\r\n").expect("request");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("response");
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    }
}

/// The lines a child process prints, collected by a thread as they come,
/// so a test can wait for the child's progress (a number of lines) instead
/// of for a time.
pub struct Lines {
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
}

/// The lines so far and whether the output has ended, with the condition
/// variable the reader signals.
type Shared = (Mutex<(Vec<String>, bool)>, Condvar);

impl Lines {
    pub fn read(out: ChildStdout) -> Self {
        let shared: Arc<Shared> = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let sink = shared.clone();
        let reader = std::thread::spawn(move || {
            let (lock, cv) = &*sink;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lock.lock().expect("lines").0.push(line);
                cv.notify_all();
            }
            lock.lock().expect("lines").1 = true;
            cv.notify_all();
        });
        Lines { shared, reader: Some(reader) }
    }

    /// The lines so far.
    pub fn snapshot(&self) -> Vec<String> {
        self.shared.0.lock().expect("lines").0.clone()
    }

    /// Waits until `n` lines came (true) or the output ended first (false);
    /// panics only if neither happens by `deadline`.
    pub fn wait_for(&self, n: usize, deadline: Instant, what: &str) -> bool {
        let (lock, cv) = &*self.shared;
        let mut g = lock.lock().expect("lines");
        loop {
            if g.0.len() >= n {
                return true;
            }
            if g.1 {
                return false;
            }
            let now = Instant::now();
            assert!(now < deadline, "{what}: {} of {n} lines by the deadline", g.0.len());
            g = cv.wait_timeout(g, deadline - now).expect("lines").0;
        }
    }

    /// Every line, once the output has ended (the child exited and its
    /// stdout closed): waits for the reader thread, so no line is missed.
    pub fn finish(mut self) -> Vec<String> {
        if let Some(r) = self.reader.take() {
            r.join().expect("reader thread");
        }
        std::mem::take(&mut self.shared.0.lock().expect("lines").0)
    }
}
