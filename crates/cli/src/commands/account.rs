use std::path::Path;

use anyhow::{bail, Context};
use clap::Subcommand;
use outpost_core::account::{self, Session};
use outpost_core::remote::Remote;

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
}

pub fn run(dir: &Path, cmd: AccountCmd) -> anyhow::Result<()> {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    match cmd {
        AccountCmd::Register { server, user } => {
            let remote = Remote::new(&server)?;
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
                println!(
                    "this store moved from {} on {}: that account keeps its copy; every note goes to the new one",
                    old.username, old.server
                );
            }
            println!(
                "registered {} on {}; {pending} changes will go up on the next `outpost sync`",
                account.username, account.server
            );
        }
        AccountCmd::Login { server, user } => {
            let remote = Remote::new(&server)?;
            let (previous, logged_in) = match outpost_core::vault::peek_account(dir)? {
                Some((a, logged_in)) => (Some(a), logged_in),
                None => (None, false),
            };
            outpost_core::account::ensure_can_log_in(previous.clone(), logged_in, &remote, &user)?;
            let pass = unlock::account_passphrase(false)?;
            let (key, session) = rt.block_on(outpost_core::account::log_in(&remote, &user, &pass))?;
            let keys = unlock::key_store(dir)?;
            let mut vault = outpost_core::Vault::open_for_account(dir, keys.as_ref(), key)
                .with_context(|| format!("opening the store in {}", dir.display()))?;
            let account = outpost_core::account::remember(&mut vault, &remote, &user, &session)?;
            if let Some(old) = previous.filter(|p| p.server != account.server || p.user_id != account.user_id) {
                println!(
                    "this store moved from {} on {}: that account keeps its copy; {} changes go up to the new one",
                    old.username,
                    old.server,
                    vault.status()?.pending
                );
            }
            println!("logged in as {user} on {}; run `outpost sync` to fetch the notes", remote.base_url());
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
            println!("logged out of {} on {}", account.username, account.server);
        }
        AccountCmd::Show { json } => {
            let vault = open_vault(dir)?;
            let account = vault.account()?;
            let logged_in = vault.session_token()?.is_some();
            if json {
                println!("{}", serde_json::json!({ "account": account, "logged_in": logged_in }));
            } else if let Some(a) = account {
                println!("{} on {} ({})", a.username, a.server, if logged_in { "logged in" } else { "logged out" });
            } else {
                println!("no account: notes stay on this device");
            }
        }
    }
    Ok(())
}
