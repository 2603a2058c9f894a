use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use clap::Subcommand;
use outpost_core::account::{self, Session};
use outpost_core::remote::{Remote, RemoteError};
use outpost_protocol::v1::SessionInfo;

use super::fmt_time;

use crate::unlock::{self, open_vault};

/// A store syncs with one account at a time. `logout` ends the session and
/// keeps the account record, so `login` to the same account carries on
/// where sync stood. After `logout`, `register` or `login` may move the
/// store to another account or server: the new account replaces the record
/// and every note goes up to it on the next sync. The notes always stay on
/// this device, and the old account keeps its copy on its server.
#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Create an account on a sync server for this store; all its notes go up on the next sync
    ///
    /// A store that is logged in must `logout` first. After that, registering
    /// moves the store to the new account: every note goes up to it on the
    /// next sync; the notes stay here and the old account keeps its copy.
    Register {
        /// Server URL (https://, or http:// to this machine)
        #[arg(long)]
        server: String,
        #[arg(long)]
        user: String,
        /// The name this device's session shows under in `outpost account sessions`
        /// [default: OUTPOST_DEVICE_NAME, else the host name]
        #[arg(long, value_name = "NAME")]
        device_name: Option<String>,
    },
    /// Join an existing account from this device (an empty data directory gets the account's key)
    ///
    /// Logging in again to the account this store was logged out of carries
    /// on where sync stood. Another account (after `logout`) takes the store
    /// over: every note goes up to it on the next sync. A store that holds
    /// notes can only join an account with its own key (one it registered).
    Login {
        #[arg(long)]
        server: String,
        #[arg(long)]
        user: String,
        /// The name this device's session shows under in `outpost account sessions`
        /// [default: OUTPOST_DEVICE_NAME, else the host name]
        #[arg(long, value_name = "NAME")]
        device_name: Option<String>,
        /// The current code of the account's authenticator app, if it has
        /// two-factor log-in on; without it, the code is asked for (read
        /// from standard input) when the server says it is needed
        #[arg(long, value_name = "CODE", env = TOTP_CODE_ENV, hide_env_values = true)]
        totp_code: Option<String>,
    },
    /// End this device's session; notes and unsent changes stay for the next log-in
    ///
    /// The account record stays too: `login` to the same account carries on
    /// where sync stood, and `register` or `login` elsewhere moves the store
    /// to another account.
    Logout,
    /// The account this store syncs with
    Show {
        #[arg(long)]
        json: bool,
    },
    /// The account's sessions: every device logged in to it, with when each was last seen
    ///
    /// One row per session: its id (for `outpost account revoke`), the name
    /// the device gave when it logged in, when it logged in and when the
    /// server last heard from it (to within a minute). This device's session
    /// is marked.
    Sessions {
        #[arg(long)]
        json: bool,
    },
    /// Change the account's passphrase; every other device is logged out unless --keep-sessions
    ///
    /// Asks for the current passphrase (or reads OUTPOST_PASSPHRASE) and the
    /// new one, twice (or reads OUTPOST_NEW_PASSPHRASE; at least 8
    /// characters). The account's data key is wrapped under the new
    /// passphrase; notes are not re-encrypted. Other devices are logged out
    /// (their unsent changes wait on them) and ask for the new passphrase at
    /// their next log-in. If this store is protected by the account's
    /// passphrase, it opens with the new one from now on. Exit codes: 4 the
    /// new passphrase is too short or the same, 5 the current passphrase is
    /// wrong, 9 the server refused (another device changed the passphrase
    /// meanwhile: try again with the one now in force).
    Passphrase {
        /// Keep the other devices logged in
        #[arg(long)]
        keep_sessions: bool,
    },
    /// End another device's session, or every session but this device's
    ///
    /// The device's token is refused from then on and its open connection
    /// to the server closes at once; its notes and unsent changes stay on
    /// it until it logs in again. To end this device's own session, use
    /// `outpost account logout`.
    #[command(group = clap::ArgGroup::new("which").required(true).args(["session_id", "others"]))]
    Revoke {
        /// The session's id, as `outpost account sessions` lists it
        #[arg(value_name = "SESSION_ID")]
        session_id: Option<String>,
        /// Every session of the account except this device's
        #[arg(long)]
        others: bool,
    },
    /// Two-factor log-in: a code from an authenticator app at every log-in, on top of the passphrase
    #[command(subcommand)]
    Totp(TotpCmd),
    /// Rotate the account's data key (a suspected compromise of the key): notes are re-encrypted under a new one
    ///
    /// Asks for the account passphrase (or reads OUTPOST_PASSPHRASE). A new
    /// data key is made here and sent to the server wrapped under the
    /// passphrase, with the old keys sealed under it, so every device can
    /// still read everything. This store then encrypts every change with the
    /// new key, and re-encrypts its notes now (they go up at the next sync,
    /// like edits; the next sync pass finishes the job if this is cut
    /// short). Other devices stay logged in; each fetches the new key with
    /// the passphrase at its next sync or log-in (`outpost account keys`).
    /// Close the app on this device first: another program that has this
    /// store open learns the new key only when it opens the store again.
    /// Running it again after a crash or a lost connection finishes the
    /// rotation that was cut short. Exit codes: 5 the passphrase is wrong,
    /// 9 the server refused (another device changed the key or the
    /// passphrase meanwhile: sync, then try again).
    RotateKey {
        #[arg(long)]
        json: bool,
    },
    /// Fetch the account's data keys with the passphrase (after another device rotated the key)
    ///
    /// Asks for the account passphrase (or reads OUTPOST_PASSPHRASE), takes
    /// in every key of the account this store lacks, and prints the keys this
    /// store holds, which one it encrypts with, and how many notes are still
    /// under an older key. `outpost sync` does this by itself when it meets
    /// a change under a key it lacks and OUTPOST_PASSPHRASE is set.
    Keys {
        #[arg(long)]
        json: bool,
    },
    /// Delete the account and everything the server keeps for it; this device keeps its notes
    ///
    /// Asks for the account passphrase (or reads OUTPOST_PASSPHRASE) and,
    /// unless --yes, for the username, typed to confirm (read from standard
    /// input). Every device of the account is logged out at once; each
    /// keeps its notes, and its sync stops with "the account was deleted".
    /// This store forgets the account: its notes stay here, queued for an
    /// account it registers or logs in to later. Cannot be undone.
    Delete {
        /// Do not ask for the username: for scripts
        #[arg(long)]
        yes: bool,
    },
}

/// `outpost account totp`.
#[derive(Debug, Subcommand)]
pub enum TotpCmd {
    /// Turn two-factor log-in on: prints a new secret for an authenticator app, then asks for its code
    ///
    /// Asks for the account passphrase (or reads OUTPOST_PASSPHRASE), then
    /// prints the secret (base32, to type into the app) and an otpauth://
    /// URI (for a QR code), then reads the app's current 6-digit code from
    /// standard input. From then on every log-in to the account, on any
    /// device, needs a code (`outpost account login --totp-code`). Devices
    /// logged in now stay logged in. Exit codes: 5 the passphrase or the
    /// code is wrong (run it again: it makes a new secret), 9 it is on
    /// already.
    Enable,
    /// Turn two-factor log-in off; needs the passphrase and a current code
    ///
    /// Asks for the account passphrase (or reads OUTPOST_PASSPHRASE) and
    /// reads the code from --code, OUTPOST_TOTP_CODE or standard input.
    /// Exit codes: 5 the passphrase or the code is wrong (nothing changed),
    /// 9 it is off.
    Disable {
        /// The current code of the authenticator app
        #[arg(long, value_name = "CODE", env = TOTP_CODE_ENV, hide_env_values = true)]
        code: Option<String>,
    },
}

/// A TOTP code without a prompt, for `login` and `totp disable`.
const TOTP_CODE_ENV: &str = "OUTPOST_TOTP_CODE";

/// A code read from standard input after `prompt` (on standard error). An
/// empty answer (nothing typed, or no input at all) is an error that
/// leaves everything as it is.
fn read_code(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let mut typed = String::new();
    std::io::stdin().read_line(&mut typed).context("reading the code")?;
    let code = typed.trim();
    if code.is_empty() {
        return Err(anyhow::Error::from(outpost_core::Error::Remote(RemoteError::TotpRequired))
            .context(format!("no code was given (pass --totp-code, or set {TOTP_CODE_ENV})")));
    }
    Ok(code.to_owned())
}

/// The account's server, with this store's session, or why not.
fn active_remote(dir: &Path) -> anyhow::Result<Remote> {
    active(&open_vault(dir)?).map(|(_, remote)| remote)
}

/// The store's account and a client with its session, or why not.
fn active(vault: &outpost_core::Vault) -> anyhow::Result<(outpost_core::vault::Account, Remote)> {
    match account::session(vault)? {
        Session::Active { account, remote } => Ok((account, remote)),
        Session::LoggedOut(a) => {
            bail!("this store is logged out of {} on {}; `outpost account login` first", a.username, a.server)
        }
        Session::None => bail!("this store is not logged in to any account; `outpost account login` first"),
    }
}

/// A server from before session listing answers `404 not_found`.
fn explain(e: RemoteError) -> anyhow::Error {
    let old = matches!(&e, RemoteError::Server { status: 404, code, .. } if code == "not_found");
    let e = anyhow::Error::from(outpost_core::Error::Remote(e));
    if old {
        e.context("this server does not list sessions yet (it is older than this device); update it")
    } else {
        e
    }
}

/// The table; write errors (a closed pipe: `| head`) go back to main.
fn print_sessions(out: &mut impl Write, sessions: &[SessionInfo]) -> std::io::Result<()> {
    let ms = |v: u64| fmt_time(i64::try_from(v).unwrap_or(i64::MAX));
    let name_width = sessions.iter().filter_map(|s| s.device_name.as_ref()).map(|n| n.chars().count()).max();
    let w = name_width.unwrap_or(0).max("DEVICE".len());
    writeln!(out, "{:<36}  {:<w$}  {:<20}  {:<20}", "ID", "DEVICE", "LOGGED IN", "LAST SEEN")?;
    for s in sessions {
        let name = s.device_name.as_deref().unwrap_or("(unnamed)");
        let mark = if s.current { "  <- this device" } else { "" };
        let (created, seen) = (ms(s.created_at_ms), ms(s.last_seen_at_ms));
        writeln!(out, "{:<36}  {name:<w$}  {created:<20}  {seen:<20}{mark}", s.id)?;
    }
    Ok(())
}

/// Exits 3 (not found, as main.rs's table has it) once everything is
/// dropped: main's table maps a refused request to 9 and cannot tell this
/// one apart from the error alone.
fn exit_not_found(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(3)
}

pub fn run(dir: &Path, cmd: AccountCmd) -> anyhow::Result<()> {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    match cmd {
        AccountCmd::Register { server, user, device_name } => {
            let remote = with_name(Remote::new(&server)?, device_name.as_deref());
            let mut vault = open_vault(dir)?;
            outpost_core::account::ensure_can_register(&vault)?;
            let previous = vault.account()?;
            let pass = unlock::account_passphrase(true)?;
            let account = match rt.block_on(outpost_core::account::register(&mut vault, &remote, &user, &pass)) {
                Err(outpost_core::Error::Remote(e)) if e.code() == "username_taken" => {
                    return Err(anyhow::Error::from(outpost_core::Error::Remote(e))
                        .context(format!("{user} exists on that server; to use it, `outpost account login`")))
                }
                other => other?,
            };
            let pending = vault.status()?.pending;
            if let Some(old) = previous.filter(|p| p.server != account.server || p.user_id != account.user_id) {
                out!(
                    "this store moved from {} on {}: that account keeps its copy; every note goes to the new one",
                    old.username,
                    old.server
                );
            }
            out!(
                "registered {} on {}; {pending} changes will go up on the next `outpost sync`",
                account.username,
                account.server
            );
        }
        AccountCmd::Login { server, user, device_name, totp_code } => {
            let remote = with_name(Remote::new(&server)?, device_name.as_deref());
            let (previous, logged_in) = match outpost_core::vault::peek_account(dir)? {
                Some((a, logged_in)) => (Some(a), logged_in),
                None => (None, false),
            };
            outpost_core::account::ensure_can_log_in(previous.clone(), logged_in, &remote, &user)?;
            let pass = unlock::account_passphrase(false)?;
            let policy = outpost_core::keys::KdfPolicy::default();
            let log_in =
                |code: Option<&str>| rt.block_on(account::log_in_with_code(&remote, &user, &pass, code, &policy));
            let (key, session) = match log_in(totp_code.as_deref()) {
                // Asked only when the server says so: accounts without it
                // never see the question.
                Err(outpost_core::Error::Remote(RemoteError::TotpRequired)) if totp_code.is_none() => {
                    let code = read_code(&format!("{user} has two-factor log-in on. Authenticator code: "))?;
                    log_in(Some(&code))?
                }
                other => other?,
            };
            let keys = unlock::key_store(dir)?;
            let mut vault = outpost_core::Vault::open_for_account(dir, keys.as_ref(), key)
                .with_context(|| format!("opening the store in {}", dir.display()))?;
            let account = outpost_core::account::remember(&mut vault, &remote, &user, &session)?;
            if let Some(old) = previous.filter(|p| p.server != account.server || p.user_id != account.user_id) {
                out!(
                    "this store moved from {} on {}: that account keeps its copy; {} changes go up to the new one",
                    old.username,
                    old.server,
                    vault.status()?.pending
                );
            }
            out!("logged in as {user} on {}; run `outpost sync` to fetch the notes", remote.base_url());
        }
        AccountCmd::Logout => {
            let mut vault = open_vault(dir)?;
            let account = match account::session(&vault)? {
                Session::None => bail!("this store is not logged in to any account"),
                Session::LoggedOut(account) => account,
                Session::Active { account, remote } => {
                    // Best effort: the session is forgotten here whatever
                    // the network says; the server expires it on its own.
                    if let Err(e) = rt.block_on(remote.logout()) {
                        eprintln!("warning: could not tell the server ({e}); the session is forgotten here anyway");
                    }
                    account
                }
            };
            vault.clear_session()?;
            let s = vault.status()?;
            if s.pending + s.failed > 0 {
                eprintln!(
                    "warning: {} changes are not on the server yet. They are kept in this store and go up after you log in again.",
                    s.pending + s.failed
                );
            }
            out!("logged out of {} on {}", account.username, account.server);
        }
        AccountCmd::Show { json } => {
            let vault = open_vault(dir)?;
            let account = vault.account()?;
            let logged_in = vault.session_token()?.is_some();
            if json {
                out!("{}", serde_json::json!({ "account": account, "logged_in": logged_in }));
            } else if let Some(a) = account {
                out!("{} on {} ({})", a.username, a.server, if logged_in { "logged in" } else { "logged out" });
            } else {
                out!("no account: notes stay on this device");
            }
        }
        AccountCmd::Sessions { json } => {
            let remote = active_remote(dir)?;
            let sessions = rt.block_on(remote.sessions()).map_err(explain)?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&sessions)?)?;
            } else {
                print_sessions(&mut out, &sessions)?;
            }
        }
        AccountCmd::Passphrase { keep_sessions } => change_passphrase(dir, &rt, keep_sessions)?,
        AccountCmd::Revoke { session_id: Some(id), .. } => {
            let id = uuid::Uuid::try_parse(id.trim()).map_err(|_| {
                outpost_core::Error::Invalid(format!(
                    "{id:?} is not a session id (a UUID, as `outpost account sessions` lists them)"
                ))
            })?;
            let remote = active_remote(dir)?;
            let sessions = rt.block_on(remote.sessions()).map_err(explain)?;
            if sessions.iter().any(|s| s.current && s.id == id) {
                return Err(outpost_core::Error::Invalid(
                    "that is this device's own session: end it with `outpost account logout`, which also \
                     forgets it here"
                        .into(),
                )
                .into());
            }
            match rt.block_on(remote.revoke_session(id)) {
                Ok(()) => {
                    let name = sessions.iter().find(|s| s.id == id).and_then(|s| s.device_name.clone());
                    let name = name.map_or_else(String::new, |n| format!(" ({n})"));
                    out!("revoked session {id}{name}: that device is logged out and must log in again");
                }
                Err(e) if e.is_session_not_found() => {
                    drop(rt);
                    exit_not_found(&format!(
                        "this account has no session {id} (it may have ended already); `outpost account sessions` lists them"
                    ))
                }
                Err(e) => return Err(explain(e)),
            }
        }
        AccountCmd::Delete { yes } => delete(dir, &rt, yes)?,
        AccountCmd::RotateKey { json } => rotate_key(dir, &rt, json)?,
        AccountCmd::Keys { json } => {
            let mut vault = open_vault(dir)?;
            let (_, remote) = active(&vault)?;
            let pass = unlock::account_passphrase(false)?;
            let policy = outpost_core::keys::KdfPolicy::default();
            let learned = rt.block_on(account::fetch_keys(&mut vault, &remote, &pass, &policy))?;
            let status = vault.key_status()?;
            if json {
                out!("{}", serde_json::json!({ "learned": learned, "keys": status }));
            } else {
                print_keys(learned.added, &status);
            }
        }
        AccountCmd::Totp(TotpCmd::Enable) => totp_enable(dir, &rt)?,
        AccountCmd::Totp(TotpCmd::Disable { code }) => {
            let remote = active_remote(dir)?;
            let pass = unlock::account_passphrase(false)?;
            let code = match code {
                Some(c) => c,
                None => read_code("Authenticator code: ")?,
            };
            let policy = outpost_core::keys::KdfPolicy::default();
            match rt.block_on(account::totp_disable(&remote, &pass, &code, &policy)) {
                Err(outpost_core::Error::Remote(e)) if e.is_totp_not_set_up() => {
                    return Err(anyhow::Error::from(outpost_core::Error::Remote(e))
                        .context("two-factor log-in is off for this account already"))
                }
                other => other?,
            }
            out!("two-factor log-in is off: log-ins to this account need only the passphrase again");
        }
        AccountCmd::Revoke { session_id: None, .. } => {
            let remote = active_remote(dir)?;
            let n = rt.block_on(remote.revoke_other_sessions()).map_err(explain)?;
            match n {
                0 => out!("no other sessions: this device is the only one logged in"),
                1 => out!("revoked 1 other session: that device is logged out; this one stays logged in"),
                n => out!("revoked {n} other sessions: those devices are logged out; this one stays logged in"),
            }
        }
    }
    Ok(())
}

/// `outpost account passphrase`.
fn change_passphrase(dir: &Path, rt: &tokio::runtime::Runtime, keep_sessions: bool) -> anyhow::Result<()> {
    use outpost_core::vault::LocalRewrap;
    let mut vault = open_vault(dir)?;
    let (account, remote) = active(&vault)?;
    let current = unlock::current_account_passphrase()?;
    let new = unlock::new_account_passphrase()?;
    // A new passphrase that will not do is a mistake in the input (4), not
    // a key that cannot be had (5).
    outpost_core::keys::check_new_passphrase(&new).map_err(|e| outpost_core::Error::Invalid(e.to_string()))?;
    let done = rt.block_on(account::change_passphrase(&mut vault, &remote, &current, &new, keep_sessions))?;
    out!("changed the passphrase of {} on {}", account.username, account.server);
    match done.sessions_ended {
        _ if keep_sessions => {
            out!("other devices stay logged in; they ask for the new passphrase at their next log-in")
        }
        0 => out!("no other device was logged in"),
        1 => out!("1 other device was logged out: it asks for the new passphrase at its next log-in"),
        n => out!("{n} other devices were logged out: they ask for the new passphrase at their next log-in"),
    }
    match done.local {
        LocalRewrap::Rewrapped => {
            out!("this store now opens with the new passphrase too (set {} to it)", unlock::PASSPHRASE_ENV)
        }
        LocalRewrap::SeparatePassphrase => out!("this store keeps its own passphrase, which was not the account's"),
        LocalRewrap::NotPassphrase => {}
        LocalRewrap::Failed => eprintln!(
            "warning: this store could not be re-wrapped (see the log) and still opens with the old passphrase; \
             the account uses the new one"
        ),
    }
    Ok(())
}

/// `outpost account rotate-key`: rotate on the server, then re-encrypt
/// this store's notes, saying how far it got.
fn rotate_key(dir: &Path, rt: &tokio::runtime::Runtime, json: bool) -> anyhow::Result<()> {
    let mut vault = open_vault(dir)?;
    let (account, remote) = active(&vault)?;
    let pass = unlock::account_passphrase(false)?;
    let rotation = rt.block_on(account::rotate_data_key(&mut vault, &remote, &pass))?;
    if !json {
        if rotation.resumed {
            out!("finished the rotation that was cut short: the server had the new key already");
        }
        out!(
            "the data key of {} on {} is now {} (was {}); the account keeps {} keys, so everything stays readable",
            account.username,
            account.server,
            rotation.new_key,
            rotation.old_key,
            rotation.keys
        );
    }
    let total = rotation.to_reencrypt;
    let mut done = 0u64;
    loop {
        let n = vault.reencrypt(outpost_core::sync::REENCRYPT_BATCH)? as u64;
        if n == 0 {
            break;
        }
        done += n;
        if !json {
            eprintln!("re-encrypted {done} of {total} notes");
        }
    }
    let status = vault.key_status()?;
    if json {
        out!("{}", serde_json::json!({ "rotation": rotation, "reencrypted": done, "keys": status }));
    } else {
        out!(
            "re-encrypted {done} notes under the new key; they go up at the next `outpost sync`. Other devices \
             fetch the new key with the passphrase at their next sync or log-in"
        );
    }
    Ok(())
}

fn print_keys(added: usize, status: &outpost_core::vault::KeyStatus) {
    if added > 0 {
        out!("fetched {added} new keys of the account");
    }
    out!("encrypting with key {} (holds {})", status.current, status.keys.join(", "));
    if let Some(p) = &status.pending {
        out!("a rotation to key {p} was cut short: run `outpost account rotate-key` again to finish it");
    }
    if !status.missing.is_empty() {
        out!(
            "changes made with key {} wait here: the account no longer has it (were they forged?)",
            status.missing.join(", ")
        );
    }
    if status.notes_under_old_keys > 0 {
        out!("{} notes are still under an older key: the next sync re-encrypts them", status.notes_under_old_keys);
    }
}

/// `outpost account delete`: confirm, prove the passphrase, delete, forget.
fn delete(dir: &Path, rt: &tokio::runtime::Runtime, yes: bool) -> anyhow::Result<()> {
    let mut vault = open_vault(dir)?;
    let (account, remote) = match account::session(&vault)? {
        Session::Active { account, remote } => (account, remote),
        Session::LoggedOut(a) => bail!(
            "this store is logged out of {} on {}; `outpost account login` first: deleting the account needs a \
             session",
            a.username,
            a.server
        ),
        Session::None => bail!("this store has no account to delete; its notes are on this device only"),
    };
    if !yes {
        eprintln!(
            "This deletes the account {} on {} and every note the server keeps for it, and logs out all its \
             devices. The notes on each device stay there. It cannot be undone.",
            account.username, account.server
        );
        eprint!("Type the username ({}) to delete it: ", account.username);
        std::io::stderr().flush().ok();
        let mut typed = String::new();
        std::io::stdin().read_line(&mut typed).context("reading the confirmation")?;
        if typed.trim() != account.username {
            return Err(outpost_core::Error::Invalid(
                "the name typed is not the account's; nothing was deleted (pass --yes to skip the question)".into(),
            )
            .into());
        }
    }
    let pass = unlock::account_passphrase(false)?;
    let deleted = rt.block_on(account::delete_account(&mut vault, &remote, &pass))?;
    let notes = vault.status()?.pending;
    out!(
        "deleted the account {} on {}: the server keeps nothing of it, and its other devices stop syncing. \
         This store has no account now; its notes stay here ({notes} queued for an account you register or log \
         in to later)",
        deleted.username,
        deleted.server
    );
    Ok(())
}

/// `outpost account totp enable`: prove the passphrase, show the new
/// secret, confirm a code.
fn totp_enable(dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let (account, remote) = active(&open_vault(dir)?)?;
    let pass = unlock::account_passphrase(false)?;
    let policy = outpost_core::keys::KdfPolicy::default();
    let setup = match rt.block_on(account::totp_setup(&remote, &pass, &policy)) {
        Err(outpost_core::Error::Remote(e)) if e.is_totp_already_enabled() => {
            return Err(anyhow::Error::from(outpost_core::Error::Remote(e)).context(
                "two-factor log-in is on already; to use a new authenticator, `outpost account totp disable` first",
            ))
        }
        other => other?,
    };
    out!("Add this account to your authenticator app ({} digits, every {} s):", setup.digits, setup.step_secs);
    out!("secret: {}", setup.secret_base32);
    out!("uri: {}", setup.otpauth_uri);
    let code = read_code("Code the app shows now: ")?;
    match rt.block_on(account::totp_enable(&remote, &code)) {
        Err(outpost_core::Error::Remote(RemoteError::TotpInvalid)) => {
            return Err(anyhow::Error::from(outpost_core::Error::Remote(RemoteError::TotpInvalid)).context(
                "two-factor log-in is still off; run `outpost account totp enable` again (it makes a new secret: \
                 remove this one from the app)",
            ))
        }
        other => other?,
    }
    out!(
        "two-factor log-in is on for {} on {}: every log-in needs the passphrase and a code from the app",
        account.username,
        account.server
    );
    Ok(())
}

/// `remote` naming this device `name` when given; otherwise the core's
/// default (OUTPOST_DEVICE_NAME, else the host name) applies.
fn with_name(remote: Remote, name: Option<&str>) -> Remote {
    match name {
        Some(n) => remote.with_device_name(n),
        None => remote,
    }
}
