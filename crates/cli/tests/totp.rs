//! Two-factor log-in through the real binary against a real `outpost
//! serve`: `outpost account totp enable` shows a secret and takes a code;
//! from then on `account login` needs a code (flag, OUTPOST_TOTP_CODE or
//! asked for), exit 5 without one or with a wrong or used one; `totp
//! disable` needs the passphrase and a code; then log-in is as before.
//!
//! The server runs on the real clock, so codes are picked as a careful
//! authenticator user would: each one of a later 30 s step than the last
//! one accepted, and at most one step ahead of now. A call refused just as
//! the step changed (the server's clock moved past the code's window) is
//! retried once with a fresh code; two changes within one call cannot
//! happen.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{outpost, run_ok, start_server_with};
use totp_rs::TOTP;

fn step_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() / 30
}

/// The authenticator app, and the last step the server accepted.
struct App {
    totp: TOTP,
    last: u64,
}

impl App {
    /// A code the server takes now: a later step than the last accepted,
    /// not more than one ahead (the test runs within a step or two).
    fn next(&self) -> (u64, String) {
        let step = (self.last + 1).max(step_now().saturating_sub(1));
        (step, self.totp.generate(step * 30))
    }

    /// Runs `call` with a fresh code; once more if it was refused (exit 5)
    /// while the step changed. Records the step accepted.
    fn use_code(&mut self, what: &str, call: impl Fn(&str) -> Output) -> Output {
        let before = step_now();
        let (step, code) = self.next();
        let mut out = call(&code);
        let mut accepted = step;
        if out.status.code() == Some(5) && step_now() != before {
            let (step, code) = self.next();
            out = call(&code);
            accepted = step;
        }
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        self.last = accepted;
        out
    }
}

/// `outpost` in `dir` with `args`, `input` on standard input and the extra
/// environment `env`.
fn run_with(dir: &Path, args: &[&str], input: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = outpost(dir);
    cmd.args(args).env_remove("OUTPOST_TOTP_CODE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn outpost");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("type");
    let out = child.wait_with_output().expect("wait");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `outpost account totp enable`, answering with the code `pick` makes
/// from the secret it prints (`None`: type nothing). The app, and the run.
fn enable(dir: &Path, pick: impl Fn(&TOTP) -> Option<String>) -> (TOTP, Output) {
    let mut child = outpost(dir)
        .args(["account", "totp", "enable"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut printed = String::new();
    let uri = loop {
        let mut line = String::new();
        assert_ne!(stdout.read_line(&mut line).expect("read"), 0, "no URI printed: {printed}");
        printed.push_str(&line);
        if let Some(uri) = line.trim().strip_prefix("uri: ") {
            break uri.to_owned();
        }
    };
    let app = TOTP::from_url(&uri).expect("an authenticator takes the URI");
    assert!(printed.contains(&format!("secret: {}", app.get_secret_base32())), "{printed}");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(code) = pick(&app) {
        writeln!(stdin, "{code}").expect("type the code");
    }
    drop(stdin);
    std::io::Read::read_to_string(&mut stdout, &mut printed).expect("the rest of stdout");
    let mut out = child.wait_with_output().expect("wait");
    out.stdout = printed.into_bytes();
    (app, out)
}

#[test]
fn two_factor_log_in_from_the_command_line() {
    let server_dir = tempfile::tempdir().expect("server dir");
    // Every try here is a log-in attempt for alice; more than the default
    // 10 a minute.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let server = start_server_with(server_dir.path(), addr, &["--login-attempts", "100"]);
    let url = server.url.as_str();
    let (laptop, phone) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let (laptop, phone) = (laptop.path(), phone.path());
    run_ok(laptop, &["account", "register", "--server", url, "--user", "alice"]);
    let login = ["account", "login", "--server", url, "--user", "alice"];

    // A wrong code: exit 5, still off (the phone logs in without a code,
    // then out again).
    let (_, out) = enable(laptop, |app| {
        let right: u32 = app.generate(step_now() * 30).parse().expect("digits");
        Some(format!("{:06}", (right + 1) % 1_000_000))
    });
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("still off"), "{}", stderr(&out));
    run_ok(phone, &login);
    run_ok(phone, &["account", "logout"]);

    // On, with a current code (one step back: the next log-ins use later
    // steps).
    let mut app = None;
    for _ in 0..2 {
        let before = step_now();
        let (totp, out) = enable(laptop, |app| Some(app.generate(before.saturating_sub(1) * 30)));
        if out.status.success() {
            assert!(String::from_utf8_lossy(&out.stdout).contains("two-factor log-in is on"));
            app = Some(App { totp, last: before.saturating_sub(1) });
            break;
        }
        assert!(out.status.code() == Some(5) && step_now() != before, "enable: {}", stderr(&out));
    }
    let mut app = app.expect("enabled within two tries");
    let again = run_with(laptop, &["account", "totp", "enable"], "", &[]);
    assert_eq!(again.status.code(), Some(9), "on already: {}", stderr(&again));

    // Log-in without a code: asked for; nothing typed is exit 5. A wrong
    // code, by flag or environment: exit 5.
    let out = run_with(phone, &login, "", &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("--totp-code"), "{}", stderr(&out));
    let (_, code) = app.next();
    let wrong = format!("{:06}", (code.parse::<u32>().expect("digits") + 1) % 1_000_000);
    let out = run_with(phone, &[&login[..], &["--totp-code", &wrong]].concat(), "", &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let out = run_with(phone, &login, "", &[("OUTPOST_TOTP_CODE", &wrong)]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("authenticator code"), "{}", stderr(&out));

    // The right code, typed when asked: logged in.
    let out = app.use_code("log in typing the code", |code| run_with(phone, &login, &format!("{code}\n"), &[]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("logged in as alice"));
    assert!(stderr(&out).contains("Authenticator code"), "asked: {}", stderr(&out));
    // The same code again, from another device: refused.
    let used = app.totp.generate(app.last * 30);
    let tablet = tempfile::tempdir().expect("c");
    let out = run_with(tablet.path(), &[&login[..], &["--totp-code", &used]].concat(), "", &[]);
    assert_eq!(out.status.code(), Some(5), "a used code: {}", stderr(&out));

    // Disable: a wrong code changes nothing; the right one turns it off.
    let out = run_with(laptop, &["account", "totp", "disable", "--code", &wrong], "", &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    app.use_code("disable", |code| {
        run_with(laptop, &["account", "totp", "disable"], "", &[("OUTPOST_TOTP_CODE", code)])
    });
    let out = run_with(laptop, &["account", "totp", "disable", "--code", "123456"], "", &[]);
    assert_eq!(out.status.code(), Some(9), "off already: {}", stderr(&out));

    // Off: log-in needs only the passphrase again.
    run_ok(tablet.path(), &login);
}
