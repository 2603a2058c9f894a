//! Simulated devices and the world they live in.
//!
//! A [`Device`] is a real store (its own directory, the account's data key
//! in a memory key store), a virtual wall clock (a [`ManualTime`] that the
//! [`Cluster`] sets from its global clock plus the device's skew before
//! every step), and a [`FaultyTransport`] to the server. A crash drops the
//! [`Vault`] (the connection closes; SQLite keeps what was committed) and
//! reopens it from disk, as an app killed and restarted would.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use outpost_core::clock::ManualTime;
use outpost_core::keys::MemoryStore;
use outpost_core::remote::RemoteError;
use outpost_core::sync::{sync_once, SyncReport, SyncTransport};
use outpost_core::{Error, Vault};
use outpost_protocol::v1::{MAX_OPS_PER_PUSH, MAX_PULL_LIMIT};
use outpost_protocol::Hlc;
use serde::Serialize;
use uuid::Uuid;

use crate::account::{scratch_dir, SimAccount};
use crate::error::SimError;
use crate::transport::FaultyTransport;

/// Virtual time starts here (2025-06-15T00:00:00Z), so stamps look real.
pub const EPOCH_MS: u64 = 1_749_945_600_000;
pub const MINUTE_MS: u64 = 60_000;
pub const DAY_MS: u64 = 24 * 60 * MINUTE_MS;

/// One simulated device.
#[derive(Debug)]
pub struct Device<T: SyncTransport> {
    pub name: String,
    dir: PathBuf,
    /// Holds the account key under this store's id (a memory "keyring").
    keys: MemoryStore,
    /// The device's wall clock; its vault reads it.
    time: ManualTime,
    /// How far this device's clock is from true (virtual) time.
    pub skew_ms: i64,
    /// `None` only if a restart failed (then every step reports it).
    vault: Option<Vault>,
    pub net: FaultyTransport<T>,
    /// Offline devices do not try to sync (the user switched off the
    /// network); a partitioned one tries and fails (see the transport).
    pub online: bool,
    pub crashes: u32,
}

/// Where a crash interrupts a sync pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// Entries were taken (and frozen) for a push that was never sent.
    BeforePush,
    /// The push reached the network (and perhaps the server); its answer
    /// was never recorded.
    AfterPush,
    /// A page was pulled but not applied.
    AfterPull,
}

impl<T: SyncTransport> Device<T> {
    fn vault_ref(&self) -> Result<&Vault, SimError> {
        self.vault.as_ref().ok_or_else(|| SimError::DeviceDown(self.name.clone()))
    }

    /// The device's store.
    pub fn vault(&self) -> Result<&Vault, SimError> {
        self.vault_ref()
    }

    pub fn vault_mut(&mut self) -> Result<&mut Vault, SimError> {
        self.vault.as_mut().ok_or_else(|| SimError::DeviceDown(self.name.clone()))
    }

    /// Run `f` on the store, naming this device in any error.
    pub fn with<R>(&mut self, f: impl FnOnce(&mut Vault) -> outpost_core::Result<R>) -> Result<R, SimError> {
        let name = self.name.clone();
        f(self.vault_mut()?).map_err(SimError::core(&name))
    }

    fn open(&self) -> Result<Vault, SimError> {
        Vault::open_with(&self.dir, &self.keys, Arc::new(self.time.clone()))
            .map(|(v, _)| v)
            .map_err(SimError::core(&self.name))
    }

    /// Kill the app and start it again: only what was committed survives.
    pub fn crash_and_restart(&mut self) -> Result<(), SimError> {
        self.vault = None;
        self.crashes += 1;
        self.vault = Some(self.open()?);
        Ok(())
    }

    /// One sync pass through the faulty network. Network faults and a held
    /// mass delete come back as errors, like any other.
    pub async fn sync(&mut self) -> Result<SyncReport, SimError> {
        let name = self.name.clone();
        let vault = self.vault.as_mut().ok_or_else(|| SimError::DeviceDown(name.clone()))?;
        sync_once(vault, &self.net).await.map_err(SimError::core(&name))
    }

    /// Start a sync pass and crash at `point`, then restart. Returns whether
    /// anything was in flight.
    pub async fn sync_and_crash(&mut self, point: CrashPoint) -> Result<bool, SimError> {
        let name = self.name.clone();
        let vault = self.vault.as_mut().ok_or_else(|| SimError::DeviceDown(name.clone()))?;
        let mut batch = vault.take_push_batch(MAX_OPS_PER_PUSH).map_err(SimError::core(&name))?;
        if batch.is_empty() {
            batch = vault.take_unanswered_batch(MAX_OPS_PER_PUSH).map_err(SimError::core(&name))?;
        }
        let busy = match point {
            CrashPoint::BeforePush => !batch.is_empty(),
            CrashPoint::AfterPush => {
                if !batch.is_empty() {
                    // Whatever the network does with it, no answer is kept.
                    let _ = self.net.push(batch.iter().map(|p| p.op.clone()).collect()).await;
                }
                !batch.is_empty()
            }
            CrashPoint::AfterPull => {
                let cursor = vault.cursor().map_err(SimError::core(&name))?;
                self.net.pull(cursor, MAX_PULL_LIMIT).await.is_ok_and(|p| !p.changes.is_empty())
            }
        };
        self.crash_and_restart()?;
        Ok(busy)
    }

    /// Every note this device holds, tombstones included, decrypted.
    pub fn snapshot(&self) -> Result<BTreeMap<Uuid, NoteState>, SimError> {
        let vault = self.vault_ref()?;
        let trash: std::collections::HashSet<Uuid> =
            vault.trash_list().map_err(SimError::core(&self.name))?.into_iter().map(|t| t.id).collect();
        let mut out = BTreeMap::new();
        for (id, deleted) in vault.all_ids().map_err(SimError::core(&self.name))? {
            let state = if deleted {
                let (rev, hlc) = tombstone(vault, id).map_err(SimError::core(&self.name))?;
                NoteState { deleted: true, rev, hlc: Some(hlc), ..NoteState::default() }
            } else {
                let n = vault.get(id).map_err(SimError::core(&self.name))?;
                NoteState {
                    deleted: false,
                    title: n.title,
                    body: n.body,
                    tags: n.tags,
                    pinned: n.pinned,
                    hlc: Some(n.hlc),
                    rev: n.server_rev,
                    trashed: trash.contains(&id),
                }
            };
            out.insert(id, state);
        }
        Ok(out)
    }
}

/// A tombstone's revision and stamp. `Vault::get` reports tombstones as
/// missing, so this one read goes to the store's connection (read only).
fn tombstone(vault: &Vault, id: Uuid) -> outpost_core::Result<(Option<i64>, Hlc)> {
    let (rev, hlc): (Option<i64>, String) =
        vault.connection().query_row("SELECT server_rev, hlc FROM notes WHERE id = ?1", [id.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let hlc = hlc.parse().map_err(|_| Error::Corrupt(format!("note {id}: bad stamp")))?;
    Ok((rev, hlc))
}

/// One note as a device holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NoteState {
    pub deleted: bool,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    pub hlc: Option<Hlc>,
    pub rev: Option<i64>,
    /// In the trash.
    pub trashed: bool,
}

/// Devices of one account, a global virtual clock, and a scratch directory
/// holding every store.
#[derive(Debug)]
pub struct Cluster<A: SimAccount> {
    account: A,
    dir: tempfile::TempDir,
    now_ms: u64,
    seed: u64,
    pub devices: Vec<Device<A::Transport>>,
}

impl<A: SimAccount> Cluster<A> {
    /// An empty cluster; `seed` seeds every device's network.
    pub fn new(account: A, seed: u64) -> Result<Self, SimError> {
        Ok(Self { account, dir: scratch_dir("outpost-sim-")?, now_ms: EPOCH_MS, seed, devices: Vec::new() })
    }

    pub fn account(&self) -> &A {
        &self.account
    }

    /// Virtual time now (true time; devices add their skew).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    pub fn advance(&mut self, ms: u64) {
        self.now_ms += ms;
    }

    /// A new device that joins the account, with its clock `skew_ms` off.
    pub async fn add_device(&mut self, name: &str, skew_ms: i64) -> Result<usize, SimError> {
        let index = self.devices.len();
        let dir = self.dir.path().join(name);
        let keys = MemoryStore::new();
        // Join: the new store adopts the account key; then reopen it on
        // the virtual clock (the joining open uses the system clock).
        drop(Vault::open_for_account(&dir, &keys, self.account.key().clone()).map_err(SimError::core(name))?);
        let time = ManualTime::new(skewed(self.now_ms, skew_ms));
        let transport = self.account.connect().await?;
        let net_seed = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(index as u64 + 1);
        let mut device = Device {
            name: name.to_owned(),
            dir,
            keys,
            time,
            skew_ms,
            vault: None,
            net: FaultyTransport::new(transport, net_seed),
            online: true,
            crashes: 0,
        };
        device.vault = Some(device.open()?);
        self.devices.push(device);
        Ok(index)
    }

    /// Device `i`, its clock set to now (plus its skew).
    pub fn dev(&mut self, i: usize) -> &mut Device<A::Transport> {
        let now = self.now_ms;
        let d = &mut self.devices[i];
        d.time.set(skewed(now, d.skew_ms));
        d
    }

    /// One pass of device `i` (ignores `online`: the caller decides).
    pub async fn sync(&mut self, i: usize) -> Result<SyncReport, SimError> {
        self.dev(i).sync().await
    }

    /// Sync every online device in turn, again and again, until a whole
    /// round moves nothing; a held mass delete is approved, as the user
    /// would after checking. Returns the rounds it took, or an error if
    /// `max_rounds` were not enough.
    pub async fn settle(&mut self, max_rounds: usize) -> Result<Settled, SimError> {
        let mut settled = Settled::default();
        for round in 1..=max_rounds {
            let mut moved = false;
            for i in 0..self.devices.len() {
                if !self.devices[i].online {
                    continue;
                }
                // Past any backoff or retry delay.
                self.advance(6 * MINUTE_MS);
                let report = match self.sync(i).await {
                    Err(e) if e.is_mass_delete_held() => {
                        settled.mass_deletes_approved += 1;
                        self.dev(i).with(|v| v.approve_mass_delete())?;
                        moved = true;
                        continue;
                    }
                    other => other?,
                };
                settled.add(&report);
                let pending = self.devices[i].vault()?.status().map_err(SimError::core(&self.devices[i].name))?.pending;
                if report.pushed + report.duplicates + report.pulled + report.push_conflicts + report.merged > 0
                    || pending > 0
                {
                    moved = true;
                }
            }
            settled.rounds = round;
            if !moved {
                return Ok(settled);
            }
        }
        Err(SimError::NotSettled(max_rounds))
    }
}

/// What [`Cluster::settle`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Settled {
    pub rounds: usize,
    pub pushed: usize,
    pub pulled: usize,
    pub duplicates: usize,
    pub merged: usize,
    pub conflicts_opened: usize,
    pub restored: usize,
    pub mass_deletes_approved: usize,
}

impl Settled {
    pub fn add(&mut self, r: &SyncReport) {
        self.pushed += r.pushed;
        self.pulled += r.pulled;
        self.duplicates += r.duplicates;
        self.merged += r.merged;
        self.conflicts_opened += r.conflicts_opened;
        self.restored += r.restored;
    }
}

fn skewed(now: u64, skew: i64) -> u64 {
    now.saturating_add_signed(skew)
}

impl SimError {
    /// A fault of the simulated (or real) network: expected, retried later.
    pub fn is_network_fault(&self) -> bool {
        matches!(self, SimError::Core { source: Error::Remote(RemoteError::Unreachable(_)), .. })
    }

    /// The mass-delete rail stopped a pass.
    pub fn is_mass_delete_held(&self) -> bool {
        matches!(self, SimError::Core { source: Error::MassDeleteHeld { .. }, .. })
    }
}
