//! The generated prose: titles, Markdown bodies, tags and offline edit
//! histories, all drawn from the caller's random stream.

use rand::rngs::StdRng;
use rand::Rng;

use crate::model::{NoteDraft, NotePatch};

const WORDS: &[&str] = &[
    "meeting",
    "project",
    "garden",
    "recipe",
    "travel",
    "budget",
    "reading",
    "ideas",
    "kitchen",
    "server",
    "release",
    "draft",
    "summary",
    "weekly",
    "plan",
    "review",
    "notes",
    "design",
    "sync",
    "offline",
    "quiet",
    "river",
    "mountain",
    "coffee",
    "library",
    "invoice",
    "doctor",
    "school",
    "holiday",
    "train",
    "bicycle",
    "apartment",
    "interview",
    "lecture",
    "birthday",
    "concert",
    "migration",
    "backup",
    "keyboard",
    "window",
    "letter",
    "question",
    "answer",
    "morning",
    "evening",
    "list",
    "journal",
    "thought",
    "sketch",
    "lemon",
    "bread",
    "tomato",
    "basil",
    "paper",
    "storage",
    "network",
    "battery",
    "harbour",
    "lantern",
    "compass",
];
const TAGS: &[&str] =
    &["work", "home", "ideas", "todo", "reading", "travel", "recipes", "health", "finance", "journal"];
const VERBS: &[&str] =
    &["check", "write", "call", "buy", "fix", "read", "plan", "send", "book", "clean", "review", "move"];

fn word(rng: &mut StdRng) -> &'static str {
    WORDS[rng.gen_range(0..WORDS.len())]
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

pub(super) fn sentence(rng: &mut StdRng) -> String {
    let n = rng.gen_range(6..16);
    let words: Vec<&str> = (0..n).map(|_| word(rng)).collect();
    format!("{}.", capitalise(&words.join(" ")))
}

pub(super) fn title(rng: &mut StdRng) -> String {
    let n = rng.gen_range(2..6);
    capitalise(&(0..n).map(|_| word(rng)).collect::<Vec<_>>().join(" "))
}

/// A Markdown body of about `target` bytes.
pub fn body(rng: &mut StdRng, target: usize) -> String {
    let mut out = String::with_capacity(target + 256);
    while out.len() < target {
        match rng.gen_range(0..10) {
            0 => out.push_str(&format!("## {}\n\n", title(rng))),
            1 | 2 => {
                for _ in 0..rng.gen_range(2..6) {
                    let done = if rng.gen_bool(0.4) { "x" } else { " " };
                    out.push_str(&format!(
                        "- [{done}] {} the {}\n",
                        capitalise(VERBS[rng.gen_range(0..VERBS.len())]),
                        word(rng)
                    ));
                }
                out.push('\n');
            }
            3 => out.push_str(&format!("> {}\n\n", sentence(rng))),
            4 => out.push_str(&format!(
                "```sh\noutpost {} --{} {}\n```\n\n",
                word(rng),
                word(rng),
                rng.gen_range(1..1000)
            )),
            5 => out.push_str(&format!("See [{}](https://example.org/{}) for more.\n\n", title(rng), word(rng))),
            _ => {
                let s: Vec<String> = (0..rng.gen_range(2..6)).map(|_| sentence(rng)).collect();
                out.push_str(&s.join(" "));
                out.push_str("\n\n");
            }
        }
    }
    out
}

pub(super) fn note(rng: &mut StdRng, size: usize) -> (NoteDraft, Vec<NotePatch>) {
    let target = if size == 0 { 0 } else { rng.gen_range(size / 4..=size.saturating_mul(2)).max(1) };
    let tags = (0..rng.gen_range(0..3)).map(|_| TAGS[rng.gen_range(0..TAGS.len())].to_owned()).collect();
    let draft = NoteDraft { title: title(rng), body: body(rng, target), tags, pinned: rng.gen_bool(0.03) };
    let mut history = Vec::new();
    if rng.gen_bool(0.1) {
        let mut text = draft.body.clone();
        for _ in 0..rng.gen_range(5..40) {
            text.push_str(&sentence(rng));
            text.push('\n');
            history.push(NotePatch { body: Some(text.clone()), ..NotePatch::default() });
        }
    }
    (draft, history)
}
