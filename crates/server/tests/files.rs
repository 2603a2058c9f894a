//! The SQLite backend's files are owner-only whatever the umask: its
//! directory 0700, the database, WAL and shared-memory files and the
//! server's lock file 0600.
//!
//! The umask belongs to the whole process and this crate forbids `unsafe`
//! (so no `libc::umask`), and no safe umask crate is a dependency. So the
//! test runs itself again as a child, through `sh -c 'umask 000; exec ..'`:
//! the child (told apart by `OUTPOST_FILES_CHILD`) opens the backend under
//! that umask, writes, and checks the modes while the database is open
//! (SQLite removes the WAL and shared-memory files on a clean close); the
//! parent checks what is left afterwards.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use outpost_server::backend::{self, NewUser};
use uuid::Uuid;

const CHILD: &str = "OUTPOST_FILES_CHILD";
const CHILD_UMASK: &str = "OUTPOST_FILES_CHILD_UMASK";
/// Where the child takes its database from: `<dir>/server.db`.
const CHILD_DB: &str = "OUTPOST_FILES_CHILD_DB";
/// Set when the child's directory is a sticky shared one (mode 1777).
const CHILD_SHARED: &str = "OUTPOST_FILES_CHILD_SHARED";

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

fn side(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The child's half: open, write, check the modes with the files open.
fn child(db: &Path, dir_mode: u32) {
    // The umask really is what the parent set, else this proves nothing.
    #[cfg(target_os = "linux")]
    if let Ok(want) = std::env::var(CHILD_UMASK) {
        let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let umask = status.lines().find_map(|l| l.strip_prefix("Umask:")).expect("a Umask line").trim().to_owned();
        assert_eq!(umask, want, "the child runs under the umask the parent set");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let backend = backend::open(&url).await.expect("open the SQLite backend");
        let user = NewUser {
            id: Uuid::now_v7(),
            username: format!("files-{}", Uuid::new_v4()),
            auth_hash: "$argon2id$stand-in".into(),
            wrapped_key: vec![1; 16],
            kdf_params: vec![],
            created_ms: 0,
        };
        backend.create_user(&user).await.expect("a write");
        let dir = db.parent().expect("dir");
        assert_eq!(mode(dir), dir_mode, "the directory");
        for path in [db.to_owned(), side(db, "-wal"), side(db, "-shm"), side(db, backend::LOCK_SUFFIX)] {
            assert_eq!(mode(&path), 0o600, "{} while open", path.display());
        }
        backend.close().await;
    });
}

/// Runs this test again in a child process under `umask`, on `db`;
/// `shared`: the directory is a sticky shared one the child must leave be.
fn run_child(umask: &str, db: &Path, shared: bool) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(["files_are_owner_only_whatever_the_umask", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env(CHILD_UMASK, format!("{umask:0>4}"))
        .env(CHILD_DB, db);
    if shared {
        cmd.env(CHILD_SHARED, "1");
    }
    let out = cmd.output().expect("run the child");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the child under umask {umask} failed:\n{text}");
    // The filter matched the test, so the child checked something.
    assert!(text.contains("1 passed"), "the child ran the test:\n{text}");
}

#[test]
fn files_are_owner_only_whatever_the_umask() {
    if std::env::var_os(CHILD).is_some() {
        let db = PathBuf::from(std::env::var_os(CHILD_DB).expect("the child's database"));
        let dir_mode: u32 = if std::env::var_os(CHILD_SHARED).is_some() { 0o1777 } else { 0o700 };
        return child(&db, dir_mode);
    }
    let tmp = tempfile::tempdir().expect("tempdir");

    // 1. Nothing there yet, under the most open umask: two directory
    //    levels and the files are made owner-only.
    let dir = tmp.path().join("data").join("server");
    let db = dir.join("server.db");
    run_child("000", &db, false);
    assert_eq!(mode(&dir), 0o700, "the data directory");
    assert_eq!(mode(dir.parent().expect("parent")), 0o700, "a directory level the server made");
    assert_eq!(mode(&db), 0o600, "the database");

    // 2. What an older server (or a shell under umask 022) left: an open
    //    directory and database. Tightened on the next start.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod dir");
    fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).expect("chmod db");
    for suffix in ["-wal", "-shm"] {
        let path = side(&db, suffix);
        if path.exists() {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod side file");
        }
    }
    run_child("022", &db, false);
    assert_eq!(mode(&dir), 0o700, "an existing open directory, tightened");
    assert_eq!(mode(&db), 0o600, "an existing open database, tightened");

    // 3. A shared directory with the sticky bit (like /tmp) is not the
    //    server's to tighten; its own files still are 0600.
    let shared = tmp.path().join("shared");
    fs::create_dir(&shared).expect("mkdir");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).expect("chmod shared");
    let db = shared.join("server.db");
    run_child("022", &db, true);
    assert_eq!(mode(&shared), 0o1777, "a sticky shared directory is left as it was");
    assert_eq!(mode(&db), 0o600, "the database in it");
}
