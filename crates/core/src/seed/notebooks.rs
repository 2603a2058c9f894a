//! Notebooks for a seeded store: a small tree (some nested) with the live
//! notes spread over it, a few left in no notebook, as a user files them.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::{NotebookFilter, SortBy};
use crate::vault::Vault;

const NAMES: [&str; 16] = [
    "Work", "Projects", "Meetings", "Home", "Recipes", "Travel", "Reading", "Ideas", "Journal", "Garden", "Finance",
    "Health", "Archive", "Drafts", "Research", "Someday",
];

/// Make `count` notebooks (at most 200; a third inside an earlier one) and
/// put about four notes in five into them, drawn from `seed`. Notes are
/// taken by title order, so the same store and seed file them alike.
/// Returns how many notes were filed.
pub fn file_notes(vault: &mut Vault, count: usize, seed: u64) -> Result<usize> {
    if count == 0 {
        return Ok(0);
    }
    if count > 200 {
        return Err(Error::Invalid(format!("{count} notebooks; seed at most 200")));
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0b00);
    let notes: Vec<Uuid> = vault.list_by(NotebookFilter::All, SortBy::Title)?.into_iter().map(|n| n.id).collect();
    vault.batch(|w| {
        let mut made: Vec<Uuid> = Vec::with_capacity(count);
        for i in 0..count {
            let base = NAMES[i % NAMES.len()];
            let name = if i < NAMES.len() { base.to_owned() } else { format!("{base} {}", i / NAMES.len() + 1) };
            let parent =
                if !made.is_empty() && rng.gen_bool(1.0 / 3.0) { made.choose(&mut rng).copied() } else { None };
            made.push(w.create_notebook(&name, parent)?);
        }
        let mut filed = 0;
        for id in &notes {
            if rng.gen_bool(0.8) {
                let nb = made.choose(&mut rng).copied();
                w.move_note(*id, nb)?;
                filed += 1;
            }
        }
        Ok(filed)
    })
}
