use std::path::Path;

use anyhow::{bail, Context};
use clap::Subcommand;
use outpost_core::remote::Remote;

use crate::unlock::{self, open_vault};

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Create an account on a sync server for this store; its notes go up on the next sync
    Register {
        /// Server URL (https://, or http:// to this machine)
        #[arg(long)]
        server: String,
        #[arg(long)]
        user: String,
    },
    /// Join an existing account from this device (an empty data directory gets the account's key)
    Login {
        #[arg(long)]
        server: String,
        #[arg(long)]
        user: String,
    },
    /// Forget this device's session; unsent changes stay for the next log-in
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
            if let Some(a) = vault.account()? {
                bail!("this store is already registered as {} on {}; log out first to switch", a.username, a.server);
            }
            let pass = unlock::account_passphrase(true)?;
            let account = rt.block_on(outpost_core::account::register(&mut vault, &remote, &user, &pass))?;
            let pending = vault.status()?.pending;
            println!(
                "registered {} on {}; {pending} changes will go up on the next `outpost sync`",
                account.username, account.server
            );
        }
        AccountCmd::Login { server, user } => {
            let remote = Remote::new(&server)?;
            let pass = unlock::account_passphrase(false)?;
            let (key, session) = rt.block_on(outpost_core::account::log_in(&remote, &user, &pass))?;
            let keys = unlock::key_store(dir)?;
            let mut vault = outpost_core::Vault::open_for_account(dir, keys.as_ref(), key)
                .with_context(|| format!("opening the store in {}", dir.display()))?;
            outpost_core::account::remember(&mut vault, &remote, &user, &session)?;
            println!("logged in as {user} on {}; run `outpost sync` to fetch the notes", remote.base_url());
        }
        AccountCmd::Logout => {
            let mut vault = open_vault(dir)?;
            let Some(account) = vault.account()? else { bail!("this store is not logged in to any account") };
            if let Some(token) = vault.session_token()? {
                let remote = Remote::new(&account.server)?.with_token(token);
                // Best effort: the session is forgotten here whatever the
                // network says; the server expires it on its own.
                if let Err(e) = rt.block_on(remote.logout()) {
                    eprintln!("warning: could not tell the server ({e}); the session is forgotten here anyway");
                }
            }
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
