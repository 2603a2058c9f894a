//! `outpost notebooks`: the notebook tree (list, create, rename, move,
//! delete). A NOTEBOOK argument is an id, a name, or a path of names from
//! the top (`Work/Projects`).

use std::io::Write;
use std::path::Path;

use clap::Subcommand;
use outpost_core::{NotebookNode, Vault};
use uuid::Uuid;

use crate::unlock::open_vault;

#[derive(Debug, Subcommand)]
pub enum NotebooksCmd {
    /// The notebooks as a tree, with how many notes each holds
    List {
        /// The tree as JSON (each notebook with its children)
        #[arg(long)]
        json: bool,
    },
    /// Make a notebook; prints its id
    Create {
        name: String,
        /// Inside this notebook (id, name, or path A/B)
        #[arg(long, value_name = "NOTEBOOK")]
        parent: Option<String>,
    },
    /// Rename a notebook
    Rename {
        /// The notebook (id, name, or path A/B)
        notebook: String,
        name: String,
    },
    /// Move a notebook inside another one (--parent) or to the top (--root)
    Move {
        /// The notebook (id, name, or path A/B)
        notebook: String,
        #[arg(long, value_name = "NOTEBOOK", required_unless_present = "root", conflicts_with = "root")]
        parent: Option<String>,
        #[arg(long)]
        root: bool,
    },
    /// Delete a notebook: its notes and notebooks move up to its parent (or to the top); no note is deleted
    Delete {
        /// The notebook (id, name, or path A/B)
        notebook: String,
    },
}

pub fn run(dir: &Path, cmd: NotebooksCmd) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        NotebooksCmd::List { json } => {
            let vault = open_vault(dir)?;
            if json {
                let tree: Vec<NotebookNode> = vault.notebook_tree()?;
                serde_json::to_writer_pretty(&mut out, &tree)?;
                writeln!(out)?;
            } else {
                for n in vault.notebooks()? {
                    let indent = "  ".repeat(n.depth as usize);
                    writeln!(out, "{}  {indent}{} ({})", n.id, n.name, n.notes)?;
                }
            }
        }
        NotebooksCmd::Create { name, parent } => {
            let mut vault = open_vault(dir)?;
            let parent = resolve(&vault, parent.as_deref())?;
            let nb = vault.create_notebook(&name, parent)?;
            writeln!(out, "{}", nb.id)?;
        }
        NotebooksCmd::Rename { notebook, name } => {
            let mut vault = open_vault(dir)?;
            let id = vault.resolve_notebook(&notebook)?;
            let nb = vault.rename_notebook(id, &name)?;
            writeln!(out, "{}  {}", nb.id, nb.path)?;
        }
        NotebooksCmd::Move { notebook, parent, root: _ } => {
            let mut vault = open_vault(dir)?;
            let id = vault.resolve_notebook(&notebook)?;
            let parent = resolve(&vault, parent.as_deref())?;
            let nb = vault.move_notebook(id, parent)?;
            writeln!(out, "{}  {}", nb.id, nb.path)?;
        }
        NotebooksCmd::Delete { notebook } => {
            let mut vault = open_vault(dir)?;
            let id = vault.resolve_notebook(&notebook)?;
            let done = vault.delete_notebook(id)?;
            writeln!(
                out,
                "deleted notebook {id}; {} notes and {} notebooks moved up",
                done.notes_moved, done.notebooks_moved
            )?;
        }
    }
    Ok(())
}

fn resolve(vault: &Vault, spec: Option<&str>) -> anyhow::Result<Option<Uuid>> {
    Ok(spec.map(|s| vault.resolve_notebook(s)).transpose()?)
}
