//! The workspace's modules form layers: no circle of `use` imports between
//! files of one crate (the parent declaring and re-exporting its children
//! is structure, not a dependency, so it does not count). A circle means two
//! files that cannot be read, tested or changed one without the other; it
//! is the first thing a restructuring should not bring back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each crate's source folder, relative to the workspace root.
const CRATE_SOURCES: &[&str] = &[
    "crates/core/src",
    "crates/protocol/src",
    "crates/server/src",
    "crates/cli/src",
    "crates/sim/src",
    "crates/faultvfs/src",
    "src-tauri/src",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `vault/rows.rs` -> ["vault", "rows"];
/// `lib.rs`, `main.rs` -> []; `engine/mod.rs` -> ["engine"].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "lib" | "main" | "mod") {
        parts.push(stem.to_owned());
    }
    if parts.first().is_some_and(|p| p == "bin") {
        parts.clear(); // a binary is its own crate root
    }
    parts
}

/// The paths a `use` tree names, flattened: `a::{b, c::d}` -> a::b, a::c::d.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let prefix: Vec<String> = split_path(&tree[..open]);
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        let mut out = Vec::new();
        for (i, ch) in inner.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.extend(expand(&inner[start..i]).into_iter().map(|p| [prefix.clone(), p].concat()));
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.extend(expand(&inner[start..]).into_iter().map(|p| [prefix.clone(), p].concat()));
        return out.into_iter().filter(|p| !p.is_empty()).collect();
    }
    vec![split_path(tree)]
}

fn split_path(p: &str) -> Vec<String> {
    let p = p.split(" as ").next().unwrap_or(p);
    p.split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The `use` statements of a file (possibly spanning lines), test modules
/// left out: a test may reach anywhere.
fn uses(text: &str) -> Vec<String> {
    let text = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("use ") {
        let line_start = rest[..at].rfind('\n').map_or(0, |i| i + 1);
        let before = rest[line_start..at].trim();
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if before.is_empty() || before == "pub" || before.starts_with("pub(") {
            out.push(after[..end].to_owned());
        }
        rest = &after[end.min(after.len())..];
    }
    out
}

/// Edges file -> file inside one crate, from `crate::` and `super::` paths.
fn edges(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let me = module_of(src, file);
        let text = std::fs::read_to_string(file).expect("read source");
        for u in uses(&text) {
            for path in expand(&u) {
                let absolute = match path.first().map(String::as_str) {
                    Some("crate") => path[1..].to_vec(),
                    Some("super") => {
                        let mut base = me.clone();
                        let mut p = path.as_slice();
                        while p.first().is_some_and(|s| s == "super") {
                            base.pop();
                            p = &p[1..];
                        }
                        [base, p.to_vec()].concat()
                    }
                    _ => continue, // another crate, or a child module named relatively
                };
                // The longest prefix that is a file of this crate.
                let target = (0..=absolute.len()).rev().map(|n| absolute[..n].to_vec()).find(|m| modules.contains(m));
                let Some(target) = target else { continue };
                // Itself, or one of its own children: structure, not a dependency.
                if target.starts_with(&me) {
                    continue;
                }
                graph.entry(me.clone()).or_default().insert(target);
            }
        }
    }
    graph
}

/// A circle in `graph`, if there is one.
fn find_circle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<Vec<String>>> {
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            return Some(stack[at..].iter().cloned().chain([node.clone()]).collect());
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_a_circle_of_imports() {
    for src in CRATE_SOURCES {
        let graph = edges(&root().join(src));
        assert!(!graph.is_empty() || *src == "crates/faultvfs/src", "{src}: no imports found; is the parser broken?");
        if let Some(circle) = find_circle(&graph) {
            let names: Vec<String> = circle.iter().map(|m| format!("crate::{}", m.join("::"))).collect();
            panic!("{src}: a circle of imports: {}", names.join(" -> "));
        }
    }
}

/// The check itself finds a circle where there is one.
#[test]
fn a_circle_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("vault")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "mod vault;\n").expect("write");
    std::fs::write(src.join("vault.rs"), "mod a;\nmod b;\npub use a::A;\n").expect("write");
    std::fs::write(src.join("vault/a.rs"), "use super::b::{B, other};\npub struct A;\n").expect("write");
    std::fs::write(src.join("vault/b.rs"), "use crate::vault::{\n    a::A,\n};\npub struct B;\n").expect("write");
    let circle = find_circle(&edges(src)).expect("a circle");
    assert_eq!(circle.len(), 3, "{circle:?}");
    std::fs::write(src.join("vault/b.rs"), "pub struct B;\n#[cfg(test)]\nmod tests { use crate::vault::a::A; }\n")
        .expect("write");
    assert_eq!(find_circle(&edges(src)), None, "parent to child and test imports do not count");
}
