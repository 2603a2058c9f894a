//! What a store meets in use, made through the code that makes it for
//! real: conflicts with another device's versions arriving as a pull
//! delivers them, and changes a push hands to a server that refuses them.

use std::collections::HashSet;

use outpost_protocol::v1::{error_code, Bytes, Change, PullResponse};
use outpost_protocol::Hlc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::text::sentence;
use crate::error::{Error, Result};
use crate::model::{Meta, NoteDraft, NotePatch};
use crate::remote::RemoteError;
use crate::vault::Vault;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// The error a permanent refusal leaves on an entry, worded as the sync
/// pass words it: a device whose clock ran far ahead stamped the change
/// beyond what the server stores. The change itself is fine, so `outpost
/// outbox retry` after fixing the clock is what a user would try.
pub(super) fn refusal() -> String {
    RemoteError::Server {
        status: 400,
        code: error_code::MALFORMED_BODY.to_owned(),
        message: "op 0: clock stamp out of range".to_owned(),
    }
    .to_string()
}

/// Hand the entries of notes `ids` to a push, as a sync pass does, and
/// record the server refusing each for good, as a pass does once it has
/// split a refused batch into single changes. They must be the only
/// entries due. Returns how many were marked failed.
pub(super) fn refuse(vault: &mut Vault, ids: &[Uuid]) -> Result<usize> {
    let batch = vault.take_push_batch(ids.len())?;
    let ours: HashSet<&Uuid> = ids.iter().collect();
    if batch.len() != ids.len() || batch.iter().any(|p| !ours.contains(&p.op.note_id)) {
        return Err(Error::Invalid(
            "another process queued changes in this store while it was being seeded; \
             they were handed to the refused push. Seed into a data directory nothing else uses"
                .into(),
        ));
    }
    let error = refusal();
    for p in &batch {
        vault.record_push_failure(std::slice::from_ref(p), &error, false)?;
    }
    Ok(batch.len())
}

/// Make each of `notes` arrive from another device of the account, add
/// words to its first line of prose here, then let that device's own
/// words on the same line arrive: the pull merges them with the unsent
/// local edit and opens a conflict holding base, mine and theirs. Everything goes through
/// [`Vault::apply_pull_page`] as a pull delivers it (one change a page, the
/// pull cursor left where it was, so a real pull later misses nothing).
/// No server holds those versions, so the note is then left as no server
/// has it: the merge result goes up as a new note on the next sync.
/// Returns the conflicts opened.
pub(super) fn conflicts(vault: &mut Vault, notes: Vec<NoteDraft>, seed: u64, now: i64) -> Result<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let node: u64 = rng.gen();
    let cursor = vault.cursor()?;
    let page = |c: Change| PullResponse { changes: vec![c], next_cursor: cursor, more: false };
    let stamp = |at: i64| Hlc { wall_ms: u64::try_from(at).unwrap_or(0), counter: 0, node };
    let mut opened = 0;
    for draft in notes {
        let id = Uuid::now_v7();
        let made = now - rng.gen_range(2 * DAY_MS..20 * DAY_MS);
        let edited = now - rng.gen_range(5 * MINUTE_MS..6 * 60 * MINUTE_MS);
        let mut meta = Meta {
            tags: draft.tags.clone(),
            pinned: draft.pinned,
            created: made,
            updated: made,
            trashed_at: None,
            carried: Vec::new(),
            notebook: None,
            kind: Default::default(),
        };
        let sealed = vault.seal_version(id, stamp(made), &draft.title, &meta, &draft.body)?;
        let first = Change {
            seq: cursor + 1,
            note_id: id,
            rev: 1,
            hlc: stamp(made),
            deleted: false,
            payload: Bytes(sealed.encode()),
        };
        vault.apply_pull_page(&page(first))?;

        let mine = with_first_line_edited(&draft.body, &sentence(&mut rng));
        let theirs = with_first_line_edited(&draft.body, &sentence(&mut rng));
        vault.edit(id, NotePatch { body: Some(mine), ..NotePatch::default() })?;

        meta.updated = edited;
        let sealed = vault.seal_version(id, stamp(edited), &draft.title, &meta, &theirs)?;
        let second = Change {
            seq: cursor + 1,
            note_id: id,
            rev: 2,
            hlc: stamp(edited),
            deleted: false,
            payload: Bytes(sealed.encode()),
        };
        opened += vault.apply_pull_page(&page(second))?.merge.opened;
        // No server holds the other device's versions: the note goes up
        // as new on this device's next sync.
        vault.forget_server_copy(id)?;
    }
    Ok(opened)
}

/// `body` with `words` added to its first line of prose (outside code
/// blocks), or with them as a new first line when it has none.
fn with_first_line_edited(body: &str, words: &str) -> String {
    let mut in_code = false;
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
    for line in lines.iter_mut() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && !line.trim().is_empty() {
            line.push(' ');
            line.push_str(words);
            return lines.join("\n") + "\n";
        }
    }
    format!("{words}\n{body}")
}
