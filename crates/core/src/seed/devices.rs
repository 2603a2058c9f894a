//! A second device of the same account, level with the first over a real
//! server and then edited on its own: two devices that have diverged, as
//! a tester wants them.

use rand::rngs::StdRng;
use rand::seq::index;
use rand::SeedableRng;
use serde::Serialize;

use super::text::{note, sentence};
use crate::error::{Error, Result};
use crate::model::{Note, NotePatch};
use crate::sync::{sync_once, SyncReport, SyncTransport};
use crate::vault::Vault;

/// The second device's random stream of a seed (beside the notes' own and
/// the other extras').
const SECOND_DEVICE_STREAM: u64 = 0x5eed_0004;
/// The second device edits about one note in ten, at most this many.
const MAX_EDITS: usize = 50;
/// ... and makes this many notes of its own.
const CREATED: usize = 2;

/// What [`second_device`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecondDevice {
    /// The first device's sync pass: its changes going up.
    pub first: SyncReport,
    /// The second device's pass: the account's notes coming down.
    pub second: SyncReport,
    /// Then, on the second device only, not synced: notes edited, made and
    /// deleted.
    pub edited: usize,
    pub created: usize,
    pub deleted: usize,
}

/// Sync `first` (its seeded changes go up), sync `second` (they come
/// down), then edit, make and delete a few notes on `second` without
/// syncing, chosen and written by `seed` (`size` as in
/// [`super::SeedSpec::size`]). Both stores must be signed in to the same
/// account on the same server, each through its own `remote`.
pub async fn second_device<A: SyncTransport, B: SyncTransport>(
    first: &mut Vault,
    first_remote: &A,
    second: &mut Vault,
    second_remote: &B,
    seed: u64,
    size: usize,
) -> Result<SecondDevice> {
    if first.path() == second.path() {
        return Err(Error::Invalid("the second device needs a data directory of its own".into()));
    }
    match (first.account()?, second.account()?) {
        (Some(a), Some(b)) if a.server == b.server && a.user_id == b.user_id => {}
        (None, _) => {
            return Err(Error::Invalid(
                "the first device is not signed in to an account: `outpost account register` or \
                 `outpost account login` first"
                    .into(),
            ))
        }
        _ => {
            return Err(Error::Invalid(
                "the second device is not signed in to the first device's account on its server".into(),
            ))
        }
    }
    let mut report = SecondDevice {
        first: sync_once(first, first_remote).await?,
        second: sync_once(second, second_remote).await?,
        ..SecondDevice::default()
    };
    diverge(second, seed ^ SECOND_DEVICE_STREAM, size, &mut report)?;
    Ok(report)
}

/// The edits of the second device, unsynced. Its notes are taken in an
/// order of their content (ids and arrival differ between runs), so the
/// same seed picks the same notes.
fn diverge(vault: &mut Vault, seed: u64, size: usize, report: &mut SecondDevice) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut notes: Vec<Note> = vault.list()?.into_iter().map(|s| vault.get(s.id)).collect::<Result<_>>()?;
    notes.sort_by(|a, b| (&a.title, &a.body, &a.tags).cmp(&(&b.title, &b.body, &b.tags)));
    let edits = (notes.len() / 10).clamp(1, MAX_EDITS).min(notes.len());
    let deletes = usize::from(notes.len() >= 5);
    let picked = index::sample(&mut rng, notes.len(), edits + deletes).into_vec();
    let (to_edit, to_delete) = picked.split_at(edits);
    let new: Vec<_> = (0..CREATED).map(|_| note(&mut rng, size).0).collect();
    vault.batch(|w| {
        for (k, &i) in to_edit.iter().enumerate() {
            let n = &notes[i];
            let line = format!("- [ ] {} (from the second device)", sentence(&mut rng));
            let title = (k % 3 == 0).then(|| format!("{} (second device)", n.title));
            w.edit(
                n.id,
                NotePatch { title, body: Some(format!("{}\n{line}\n", n.body.trim_end())), ..NotePatch::default() },
            )?;
        }
        for &i in to_delete {
            w.delete(notes[i].id)?;
        }
        for draft in new {
            w.create(draft)?;
        }
        Ok(())
    })?;
    report.edited = to_edit.len();
    report.deleted = to_delete.len();
    report.created = CREATED;
    Ok(())
}
