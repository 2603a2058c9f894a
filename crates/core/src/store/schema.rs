//! Schemas as data: the tables, indexes, views and triggers of a SQLite
//! database read back from SQLite itself, compared structurally, and the SQL
//! that turns one schema into another (`outpost migrate new`).
//!
//! Both sides of a comparison are real databases (in memory for the
//! migrations and the declared schema): SQLite parses the SQL, so
//! `pragma table_xinfo`, `index_xinfo`, `index_list` and `foreign_key_list`
//! say what it understood, and layout, comments or quoting never count as a
//! difference. What no pragma exposes (CHECK, COLLATE, generated columns,
//! AUTOINCREMENT, expression and partial indexes) is read from the stored
//! `CREATE` text by a small tokenizer and compared token by token.
//!
//! The generator takes, per table, the cheapest change SQLite makes in place
//! (`ADD COLUMN`, `DROP COLUMN`) and otherwise SQLite's documented table
//! rebuild ("Making Other Kinds Of Table Schema Changes" in its ALTER TABLE
//! page). Every plan is applied to a copy of the old schema and compared
//! with the declared one before it is handed out: a cheap step that SQLite
//! refuses or that falls short turns that table into a rebuild, and a plan
//! that still does not reach the declared schema is refused, so a file the
//! generator writes always reaches it.

use std::collections::BTreeSet;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// `crates/core/schema.sql`: the schema this build wants, declared whole.
/// The migrations must produce exactly this (`outpost migrate check`).
pub const DECLARED: &str = include_str!("../../schema.sql");

/// Bookkeeping of the migrator, not part of any declared schema.
const MIGRATIONS_TABLE: &str = "_migrations";

/// Prefix of the temporary table of a rebuild.
const REBUILD_PREFIX: &str = "_outpost_new_";

// ---------------------------------------------------------------------------
// Tokens

mod diff;
mod plan;
mod sql;

use sql::{norm_sql, parse_index, parse_table, significant, TableText};

pub use diff::{describe_difference, diff, Difference};
pub use plan::{generate, Plan};
pub use sql::quote;

/// A database's schema as SQLite understood it, objects in creation order.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub tables: Vec<Table>,
    pub indexes: Vec<Index>,
    /// Views and triggers.
    pub others: Vec<Other>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    key: String,
    /// The `CREATE TABLE` text as SQLite stores it.
    pub sql: String,
    pub columns: Vec<Column>,
    is_virtual: bool,
    strict: bool,
    without_rowid: bool,
    autoincrement: bool,
    /// Normalised table-level CHECK constraints, sorted.
    checks: Vec<String>,
    foreign_keys: Vec<ForeignKey>,
    /// Column lists of UNIQUE constraints (SQLite's automatic indexes).
    uniques: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    key: String,
    decl_type: String,
    type_norm: String,
    not_null: bool,
    default: Option<String>,
    default_norm: Option<String>,
    /// Position in the primary key, 0 when not in it.
    pk: i64,
    /// 0 plain, 1 hidden (virtual tables), 2 generated virtual, 3 generated stored.
    hidden: i64,
    /// Normalised CHECK, COLLATE and generated-column clauses, sorted.
    extras: Vec<String>,
    /// The definition as written, for `ADD COLUMN`.
    def: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    from: Vec<String>,
    table: String,
    to: Vec<String>,
    on_update: String,
    on_delete: String,
    matching: String,
}

#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    key: String,
    pub table: String,
    table_key: String,
    pub sql: String,
    unique: bool,
    /// Key columns: name or expression, order and collation, normalised.
    columns: Vec<String>,
    /// Normalised WHERE condition of a partial index.
    partial: Option<String>,
}

/// A view or trigger: compared by its normalised text.
#[derive(Debug, Clone)]
pub struct Other {
    pub kind: String,
    pub name: String,
    key: String,
    pub table: String,
    pub sql: String,
    norm: String,
}

impl Column {
    fn same(&self, o: &Column) -> bool {
        self.type_norm == o.type_norm
            && self.not_null == o.not_null
            && self.default_norm == o.default_norm
            && self.pk == o.pk
            && self.hidden == o.hidden
            && self.extras == o.extras
    }

    /// What the column is, for messages.
    fn describe(&self) -> String {
        let mut s = if self.decl_type.is_empty() { "(no type)".to_owned() } else { self.decl_type.clone() };
        if self.pk > 0 {
            s.push_str(" PRIMARY KEY");
        }
        if self.not_null {
            s.push_str(" NOT NULL");
        }
        if let Some(d) = &self.default {
            s.push_str(" DEFAULT ");
            s.push_str(d);
        }
        for e in &self.extras {
            s.push(' ');
            s.push_str(e);
        }
        s
    }

    fn default_is_null(&self) -> bool {
        self.default_norm.as_deref().is_none_or(|d| d == "null")
    }

    fn generated(&self) -> bool {
        self.hidden >= 2
    }
}

impl Table {
    fn column(&self, key: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.key == key)
    }

    fn options(&self) -> String {
        let mut o = Vec::new();
        if self.is_virtual {
            o.push("VIRTUAL");
        }
        if self.strict {
            o.push("STRICT");
        }
        if self.without_rowid {
            o.push("WITHOUT ROWID");
        }
        if self.autoincrement {
            o.push("AUTOINCREMENT");
        }
        if o.is_empty() {
            "an ordinary rowid table".to_owned()
        } else {
            o.join(", ")
        }
    }

    fn column_list(&self) -> String {
        self.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Whether rows keep a rowid of their own (not an INTEGER PRIMARY KEY
    /// alias), which a rebuild must copy explicitly to keep.
    fn has_own_rowid(&self) -> bool {
        if self.without_rowid || self.is_virtual {
            return false;
        }
        if self.columns.iter().any(|c| matches!(c.key.as_str(), "rowid" | "oid" | "_rowid_")) {
            return false;
        }
        let pk: Vec<&Column> = self.columns.iter().filter(|c| c.pk > 0).collect();
        !(pk.len() == 1 && pk[0].type_norm == "integer")
    }
}

impl Index {
    fn same(&self, o: &Index) -> bool {
        self.table_key == o.table_key
            && self.unique == o.unique
            && self.columns == o.columns
            && self.partial == o.partial
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "{}INDEX ON {} ({})",
            if self.unique { "UNIQUE " } else { "" },
            self.table,
            self.columns.join(", ")
        );
        if let Some(w) = &self.partial {
            s.push_str(" WHERE ");
            s.push_str(w);
        }
        s
    }
}

impl Schema {
    /// Read the schema of the database behind `conn`: everything but
    /// SQLite's own objects, the shadow tables of virtual tables and the
    /// migrator's `_migrations`.
    pub fn read(conn: &Connection) -> Result<Schema> {
        let mut stmt = conn.prepare(
            "SELECT type, name, tbl_name, sql FROM sqlite_schema
             WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
               AND name != ?1 AND tbl_name != ?1
             ORDER BY rowid",
        )?;
        let rows = stmt.query_map([MIGRATIONS_TABLE], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })?;
        let objects = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let mut schema = Schema::default();
        for (kind, name, table, sql) in objects {
            match kind.as_str() {
                "table" => {
                    if let Some(t) = read_table(conn, &name, sql)? {
                        schema.tables.push(t);
                    }
                }
                "index" => schema.indexes.push(read_index(conn, &name, &table, sql)?),
                _ => schema.others.push(Other {
                    key: name.to_ascii_lowercase(),
                    norm: norm_other(&sql),
                    kind,
                    name,
                    table,
                    sql,
                }),
            }
        }
        // Indexes on shadow tables belong to their virtual table.
        let keys: BTreeSet<String> = schema.tables.iter().map(|t| t.key.clone()).collect();
        schema.indexes.retain(|i| keys.contains(&i.table_key));
        Ok(schema)
    }

    /// A new in-memory database holding this schema (and no rows).
    pub fn materialise(&self) -> Result<Connection> {
        let conn = scratch()?;
        let tx = conn.unchecked_transaction()?;
        let sqls = self
            .tables
            .iter()
            .map(|t| &t.sql)
            .chain(self.indexes.iter().map(|i| &i.sql))
            .chain(self.others.iter().filter(|o| o.kind == "view").map(|o| &o.sql))
            .chain(self.others.iter().filter(|o| o.kind != "view").map(|o| &o.sql));
        for sql in sqls {
            tx.execute_batch(sql)?;
        }
        tx.commit()?;
        Ok(conn)
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.indexes.is_empty() && self.others.is_empty()
    }

    fn table(&self, key: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.key == key)
    }

    fn index(&self, key: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.key == key)
    }

    fn other(&self, key: &str) -> Option<&Other> {
        self.others.iter().find(|o| o.key == key)
    }
}

/// A view's or trigger's text without `IF NOT EXISTS` and `TEMP`, which do
/// not change what it is.
fn norm_other(sql: &str) -> String {
    let toks = significant(sql);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if i + 2 < toks.len() && toks[i].is_word("if") && toks[i + 1].is_word("not") && toks[i + 2].is_word("exists") {
            i += 3;
            continue;
        }
        if i < 3 && (toks[i].is_word("temp") || toks[i].is_word("temporary")) {
            i += 1;
            continue;
        }
        out.push(toks[i].norm());
        i += 1;
    }
    out.join(" ")
}

fn read_table(conn: &Connection, name: &str, sql: String) -> Result<Option<Table>> {
    let (kind, wr, strict): (String, bool, bool) = conn.query_row(
        "SELECT type, wr, strict FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
        [name],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if kind == "shadow" {
        return Ok(None);
    }
    let is_virtual = kind == "virtual";
    let text = if is_virtual { TableText::default() } else { parse_table(&sql) };
    let mut stmt = conn
        .prepare("SELECT name, coalesce(type, ''), \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1)")?;
    let rows = stmt.query_map([name], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut columns = Vec::new();
    for row in rows {
        let (cname, decl_type, not_null, default, pk, hidden) = row?;
        let key = cname.to_ascii_lowercase();
        let parsed = text.columns.iter().find(|c| c.key == key);
        columns.push(Column {
            type_norm: norm_sql(&decl_type),
            default_norm: default.as_deref().map(norm_sql),
            extras: parsed.map(|p| p.extras.clone()).unwrap_or_default(),
            def: parsed.map(|p| p.def.clone()).unwrap_or_default(),
            name: cname,
            key,
            decl_type,
            not_null,
            default,
            pk,
            hidden,
        });
    }
    let mut stmt = conn.prepare(
        "SELECT id, \"from\", coalesce(\"to\", ''), \"table\", on_update, on_delete, \"match\"
         FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
    )?;
    let rows = stmt.query_map([name], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    let mut foreign_keys: Vec<(i64, ForeignKey)> = Vec::new();
    for row in rows {
        let (id, from, to, table, on_update, on_delete, matching) = row?;
        match foreign_keys.last_mut() {
            Some((last, fk)) if *last == id => {
                fk.from.push(from.to_ascii_lowercase());
                fk.to.push(to.to_ascii_lowercase());
            }
            _ => foreign_keys.push((
                id,
                ForeignKey {
                    from: vec![from.to_ascii_lowercase()],
                    to: vec![to.to_ascii_lowercase()],
                    table: table.to_ascii_lowercase(),
                    on_update,
                    on_delete,
                    matching,
                },
            )),
        }
    }
    let mut foreign_keys: Vec<ForeignKey> = foreign_keys.into_iter().map(|(_, fk)| fk).collect();
    foreign_keys.sort();
    let mut uniques = Vec::new();
    let auto: Vec<String> = conn
        .prepare("SELECT name FROM pragma_index_list(?1) WHERE origin = 'u'")?
        .query_map([name], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for index in auto {
        let cols: Vec<String> = conn
            .prepare("SELECT lower(coalesce(name, '')) FROM pragma_index_info(?1) ORDER BY seqno")?
            .query_map([&index], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        uniques.push(cols);
    }
    uniques.sort();
    Ok(Some(Table {
        name: name.to_owned(),
        key: name.to_ascii_lowercase(),
        sql,
        columns,
        is_virtual,
        strict,
        without_rowid: wr,
        autoincrement: text.autoincrement,
        checks: text.checks,
        foreign_keys,
        uniques,
    }))
}

fn read_index(conn: &Connection, name: &str, table: &str, sql: String) -> Result<Index> {
    let unique: bool =
        conn.query_row("SELECT \"unique\" FROM pragma_index_list(?1) WHERE name = ?2", [table, name], |r| r.get(0))?;
    let (elements, partial) = parse_index(&sql);
    let mut stmt = conn.prepare(
        "SELECT cid, coalesce(name, ''), \"desc\", coalesce(coll, '') FROM pragma_index_xinfo(?1)
         WHERE key = 1 ORDER BY seqno",
    )?;
    let rows = stmt.query_map([name], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?, r.get::<_, String>(3)?))
    })?;
    let mut columns = Vec::new();
    for (i, row) in rows.enumerate() {
        let (cid, cname, desc, coll) = row?;
        let what = if cid == -2 {
            // An expression: pragmas give no text, the statement does.
            elements.get(i).cloned().unwrap_or_else(|| "(expression)".to_owned())
        } else {
            cname.to_ascii_lowercase()
        };
        let mut s = what;
        if desc {
            s.push_str(" desc");
        }
        if !coll.eq_ignore_ascii_case("binary") {
            s.push_str(" collate ");
            s.push_str(&coll.to_ascii_lowercase());
        }
        columns.push(s);
    }
    Ok(Index {
        name: name.to_owned(),
        key: name.to_ascii_lowercase(),
        table: table.to_owned(),
        table_key: table.to_ascii_lowercase(),
        sql,
        unique,
        columns,
        partial,
    })
}

/// The schema a list of SQL scripts makes on an empty database, run as the
/// migrator runs them (each in a transaction, foreign keys off).
pub fn schema_of_scripts<'a>(scripts: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Schema> {
    let mut conn = scratch()?;
    for (what, sql) in scripts {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).map_err(|e| Error::Invalid(format!("{what} does not run: {e}")))?;
        tx.commit()?;
    }
    Schema::read(&conn)
}

/// An empty in-memory database set up as the migrator runs migrations:
/// foreign keys off (the bundled SQLite turns them on by default).
fn scratch() -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "foreign_keys", false)?;
    Ok(conn)
}

/// The schema declared by `sql` (the text of a `schema.sql`).
pub fn declared_schema(sql: &str) -> Result<Schema> {
    schema_of_scripts([("the declared schema (schema.sql)", sql)])
}

#[cfg(test)]
mod tests {
    use super::plan::rename_create;
    use super::*;

    fn schema(sql: &str) -> Schema {
        declared_schema(sql).expect("schema")
    }

    #[test]
    fn layout_comments_quoting_and_case_are_not_differences() {
        let a = schema(
            "CREATE TABLE t (\n  a INTEGER NOT NULL DEFAULT 0, -- note\n  b TEXT CHECK (b IN ('x'))\n) STRICT;
             CREATE INDEX i ON t (a DESC) WHERE b IS NULL;",
        );
        let b = schema(
            "create table \"t\" (a integer default 0 not null, [b] TEXT check(b in ('x'))) strict;
             CREATE INDEX \"i\" ON t(a desc) where b is null;",
        );
        assert_eq!(diff(&a, &b), vec![]);
    }

    #[test]
    fn checks_defaults_and_partial_conditions_are_differences() {
        let a = schema("CREATE TABLE t (a INT CHECK (a > 0), b INT DEFAULT 1); CREATE INDEX i ON t (a) WHERE a > 1;");
        let b = schema("CREATE TABLE t (a INT CHECK (a > 1), b INT DEFAULT 2); CREATE INDEX i ON t (a) WHERE a > 2;");
        let d = diff(&a, &b);
        assert_eq!(d.len(), 3, "{d:?}");
    }

    #[test]
    fn clause_split_keeps_references_actions_together() {
        let t = parse_table(
            "CREATE TABLE t (a INT REFERENCES p (id) ON DELETE SET NULL NOT DEFERRABLE CHECK (a > 0) COLLATE nocase)",
        );
        assert_eq!(t.columns[0].extras, vec!["check ( a > 0 )".to_owned(), "collate nocase".to_owned()]);
    }

    #[test]
    fn rename_create_replaces_only_the_name() {
        assert_eq!(rename_create("CREATE TABLE \"t\" (a -- t\n)", "n_t"), "CREATE TABLE \"n_t\" (a -- t\n)");
    }

    #[test]
    fn tokenizer_keeps_strings_and_comments_apart() {
        let t = significant("a '--x' /* b */ \"c d\" [e] 1.5e-3 -- f");
        let texts: Vec<&str> = t.iter().map(|t| t.text).collect();
        assert_eq!(texts, vec!["a", "'--x'", "\"c d\"", "[e]", "1.5e-3"]);
    }
}
