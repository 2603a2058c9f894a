//! `outpost account rotate-key` and `outpost account keys`, through the
//! real binary against a real `outpost serve`: a rotation re-encrypts this
//! store's notes and says so; the
//! other device's `outpost sync` sets the changes under the new key aside
//! and, with OUTPOST_PASSPHRASE set, fetches the key and applies them;
//! `outpost account keys` shows where a store stands.

mod common;

use std::path::Path;

use common::{json, outpost, run_ok, start_server};

fn titles(dir: &Path) -> Vec<String> {
    let v = json(dir, &["notes", "list", "--json"]);
    let mut t: Vec<String> =
        v.as_array().expect("a list").iter().map(|n| n["title"].as_str().expect("title").to_owned()).collect();
    t.sort();
    t
}

#[test]
fn rotate_the_data_key_from_the_command_line() {
    let server_dir = tempfile::tempdir().expect("server dir");
    let server = start_server(server_dir.path());
    let (laptop, phone) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let (laptop, phone) = (laptop.path(), phone.path());
    let url = server.url.as_str();
    run_ok(laptop, &["account", "register", "--server", url, "--user", "rhea"]);
    run_ok(phone, &["account", "login", "--server", url, "--user", "rhea"]);
    for t in ["one", "two"] {
        run_ok(laptop, &["notes", "add", "--title", t]);
    }
    run_ok(laptop, &["sync"]);
    run_ok(phone, &["sync"]);
    let before = json(laptop, &["account", "keys", "--json"]);
    let first = before["keys"]["current"].as_str().expect("current key").to_owned();

    // The rotation: this store's notes re-encrypted at once.
    let said = run_ok(laptop, &["account", "rotate-key"]);
    assert!(said.contains("re-encrypted 2 notes under the new key"), "{said}");
    assert!(said.contains(&format!("(was {first})")), "{said}");
    let after = json(laptop, &["account", "keys", "--json"]);
    let new = after["keys"]["current"].as_str().expect("current key").to_owned();
    assert_ne!(new, first);
    assert_eq!(after["keys"]["keys"].as_array().expect("keys").len(), 2);
    assert_eq!(after["keys"]["notes_under_old_keys"], 0);
    run_ok(laptop, &["notes", "add", "--title", "three"]);
    run_ok(laptop, &["sync"]);

    // The phone syncs: with OUTPOST_PASSPHRASE set it fetches the new key
    // by itself, and everything is there.
    let out = outpost(phone).args(["sync", "--json"]).output().expect("sync");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fetched 1 new keys"), "{stderr}");
    assert_eq!(titles(phone), ["one", "three", "two"]);
    let keys = json(phone, &["account", "keys", "--json"]);
    assert_eq!(keys["keys"]["current"].as_str(), Some(new.as_str()));
    assert_eq!(keys["keys"]["missing"].as_array().expect("missing").len(), 0);
    // And it writes with the new key.
    run_ok(phone, &["notes", "add", "--title", "four"]);
    run_ok(phone, &["sync"]);
    run_ok(laptop, &["sync"]);
    assert_eq!(titles(laptop), ["four", "one", "three", "two"]);
}
