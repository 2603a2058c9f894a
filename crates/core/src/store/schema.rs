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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    /// `"x"`, `` `x` `` or `[x]`.
    Ident,
    Str,
    Num,
    Punct,
    Space,
    Comment,
}

#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    end: usize,
}

impl Tok<'_> {
    fn significant(&self) -> bool {
        !matches!(self.kind, Kind::Space | Kind::Comment)
    }

    fn is_word(&self, w: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(w)
    }

    fn is(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.text == p
    }

    /// Keywords and identifiers are case-insensitive in SQLite and an
    /// identifier means the same quoted or not; literals stay as written.
    fn norm(&self) -> String {
        match self.kind {
            Kind::Word => self.text.to_ascii_lowercase(),
            Kind::Ident => unquote(self.text).to_ascii_lowercase(),
            _ => self.text.to_owned(),
        }
    }
}

fn unquote(t: &str) -> String {
    for (open, close, doubled) in [("\"", "\"", "\"\""), ("`", "`", "``")] {
        if let Some(inner) = t.strip_prefix(open).and_then(|s| s.strip_suffix(close)) {
            return inner.replace(doubled, close);
        }
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return inner.to_owned();
    }
    t.to_owned()
}

/// Split SQL into tokens. Every token ends at an ASCII byte or at the end,
/// so slicing never cuts a character.
fn tokenize(sql: &str) -> Vec<Tok<'_>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let kind = if c.is_ascii_whitespace() {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            Kind::Space
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            Kind::Comment
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(b.len());
            Kind::Comment
        } else if matches!(c, b'\'' | b'"' | b'`') {
            i += 1;
            while i < b.len() {
                if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            if c == b'\'' {
                Kind::Str
            } else {
                Kind::Ident
            }
        } else if c == b'[' {
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
            i = (i + 1).min(b.len());
            Kind::Ident
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            i += 1;
            while i < b.len() {
                let d = b[i];
                // Digits, hex, `.`, `_` separators, and an exponent's sign.
                let exponent_sign = (d == b'+' || d == b'-') && matches!(b[i - 1], b'e' | b'E');
                if d.is_ascii_alphanumeric() || d == b'.' || d == b'_' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            Kind::Num
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80) {
                i += 1;
            }
            Kind::Word
        } else {
            i += 1;
            Kind::Punct
        };
        out.push(Tok { kind, text: &sql[start..i], start, end: i });
    }
    out
}

fn significant(sql: &str) -> Vec<Tok<'_>> {
    tokenize(sql).into_iter().filter(Tok::significant).collect()
}

fn norm_tokens(toks: &[Tok<'_>]) -> String {
    toks.iter().map(Tok::norm).collect::<Vec<_>>().join(" ")
}

/// Normalised text of a whole statement or expression.
fn norm_sql(sql: &str) -> String {
    norm_tokens(&significant(sql))
}

/// The index of the `)` that closes the `(` at `open`.
fn closing(toks: &[Tok<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if t.is("(") {
            depth += 1;
        } else if t.is(")") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Split at commas outside parentheses.
fn split_commas<'t, 'a>(toks: &'t [Tok<'a>]) -> Vec<&'t [Tok<'a>]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut from = 0;
    for (i, t) in toks.iter().enumerate() {
        if t.is("(") {
            depth += 1;
        } else if t.is(")") {
            depth = depth.saturating_sub(1);
        } else if t.is(",") && depth == 0 {
            out.push(&toks[from..i]);
            from = i + 1;
        }
    }
    if from < toks.len() {
        out.push(&toks[from..]);
    }
    out
}

/// The text from `first` to `last` as written, comments dropped and runs of
/// white space made one space: a column definition fit for `ADD COLUMN`.
fn clean_text(sql: &str, first: &Tok<'_>, last: &Tok<'_>) -> String {
    let mut out = String::new();
    for t in tokenize(&sql[first.start..last.end]) {
        if t.significant() {
            out.push_str(t.text);
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim().to_owned()
}

/// Double-quoted identifier, for names in generated statements.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------
// The schema, read back from a database

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

/// An index's key elements (normalised, without ASC/DESC/COLLATE, which
/// the pragmas report) and its WHERE condition.
fn parse_index(sql: &str) -> (Vec<String>, Option<String>) {
    let toks = significant(sql);
    let Some(open) = toks.iter().position(|t| t.is("(")) else {
        return (Vec::new(), None);
    };
    let Some(close) = closing(&toks, open) else {
        return (Vec::new(), None);
    };
    let elements = split_commas(&toks[open + 1..close])
        .into_iter()
        .map(|e| {
            let mut e = e;
            if e.last().is_some_and(|t| t.is_word("asc") || t.is_word("desc")) {
                e = &e[..e.len() - 1];
            }
            if e.len() >= 2 && e[e.len() - 2].is_word("collate") {
                e = &e[..e.len() - 2];
            }
            norm_tokens(e)
        })
        .collect();
    let rest = &toks[close + 1..];
    let partial = match rest.first() {
        Some(t) if t.is_word("where") => Some(norm_tokens(&rest[1..])),
        _ => None,
    };
    (elements, partial)
}

#[derive(Debug, Default)]
struct TableText {
    columns: Vec<ColumnText>,
    checks: Vec<String>,
    autoincrement: bool,
}

#[derive(Debug)]
struct ColumnText {
    key: String,
    def: String,
    extras: Vec<String>,
}

/// Read what the pragmas do not tell from a `CREATE TABLE` text.
fn parse_table(sql: &str) -> TableText {
    let toks = significant(sql);
    let mut out = TableText { autoincrement: toks.iter().any(|t| t.is_word("autoincrement")), ..Default::default() };
    let Some(open) = toks.iter().position(|t| t.is("(")) else {
        return out;
    };
    let Some(close) = closing(&toks, open) else {
        return out;
    };
    for item in split_commas(&toks[open + 1..close]) {
        let (Some(first), Some(last)) = (item.first(), item.last()) else {
            continue;
        };
        if ["constraint", "primary", "unique", "check", "foreign"].iter().any(|w| first.is_word(w)) {
            // Only CHECK needs the text; the pragmas cover the others.
            if let Some(at) = item.iter().position(|t| t.is_word("check")) {
                out.checks.push(norm_tokens(&item[at..]));
            }
            continue;
        }
        let mut clauses: Vec<Vec<Tok<'_>>> = Vec::new();
        let mut depth = 0usize;
        for (i, t) in item.iter().enumerate().skip(1) {
            if depth == 0 && starts_clause(item.get(i - 1), t, item.get(i + 1)) {
                clauses.push(Vec::new());
            }
            if t.is("(") {
                depth += 1;
            } else if t.is(")") {
                depth = depth.saturating_sub(1);
            }
            if let Some(c) = clauses.last_mut() {
                c.push(*t);
            }
        }
        let mut extras: Vec<String> = clauses
            .iter()
            .filter(|c| c.first().is_some_and(|t| ["check", "collate", "generated", "as"].iter().any(|w| t.is_word(w))))
            .map(|c| norm_tokens(c))
            .collect();
        extras.sort();
        out.columns.push(ColumnText { key: first.norm(), def: clean_text(sql, first, last), extras });
    }
    out.checks.sort();
    out
}

/// Whether `t` begins a column constraint (SQLite's column-constraint
/// grammar), given its neighbours: `NOT` only before `NULL`, and `NULL`,
/// `DEFAULT` and `AS` not where they continue a clause (`NOT NULL`,
/// `SET NULL`, `DEFAULT NULL`, `SET DEFAULT`, `GENERATED ALWAYS AS`).
fn starts_clause(prev: Option<&Tok<'_>>, t: &Tok<'_>, next: Option<&Tok<'_>>) -> bool {
    if t.kind != Kind::Word {
        return false;
    }
    let after = |w: &str| prev.is_some_and(|p| p.is_word(w));
    match t.text.to_ascii_lowercase().as_str() {
        "constraint" | "primary" | "unique" | "check" | "collate" | "references" | "generated" => true,
        "not" => next.is_some_and(|n| n.is_word("null")),
        "null" => !(after("not") || after("set") || after("default")),
        "default" => !after("set"),
        "as" => !after("always"),
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Differences

/// One difference between an expected schema and an actual one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Difference {
    /// Expected, not there.
    Missing { kind: String, name: String },
    /// There, not expected.
    Extra { kind: String, name: String },
    /// In both, not the same.
    Changed { kind: String, name: String, expected: String, actual: String },
}

fn changed(kind: &str, name: &str, expected: String, actual: String) -> Difference {
    Difference::Changed { kind: kind.to_owned(), name: name.to_owned(), expected, actual }
}

/// What differs between two versions of one table.
fn table_differences(e: &Table, a: &Table) -> Vec<Difference> {
    let mut out = Vec::new();
    if (e.is_virtual, e.strict, e.without_rowid, e.autoincrement)
        != (a.is_virtual, a.strict, a.without_rowid, a.autoincrement)
    {
        out.push(changed("table", &e.name, e.options(), a.options()));
    }
    if e.is_virtual && a.is_virtual && norm_other(&e.sql) != norm_other(&a.sql) {
        out.push(changed("virtual table", &e.name, norm_other(&e.sql), norm_other(&a.sql)));
    }
    for c in &e.columns {
        let name = format!("{}.{}", e.name, c.name);
        match a.column(&c.key) {
            None => out.push(Difference::Missing { kind: "column".into(), name }),
            Some(ac) if !c.same(ac) => out.push(changed("column", &name, c.describe(), ac.describe())),
            Some(_) => {}
        }
    }
    for c in &a.columns {
        if e.column(&c.key).is_none() {
            out.push(Difference::Extra { kind: "column".into(), name: format!("{}.{}", a.name, c.name) });
        }
    }
    let common = |t: &Table, o: &Table| -> Vec<String> {
        t.columns.iter().filter(|c| o.column(&c.key).is_some()).map(|c| c.key.clone()).collect()
    };
    if common(e, a) != common(a, e) {
        out.push(changed("column order", &e.name, e.column_list(), a.column_list()));
    }
    if e.checks != a.checks {
        out.push(changed("table CHECK constraints", &e.name, e.checks.join("; "), a.checks.join("; ")));
    }
    if e.foreign_keys != a.foreign_keys {
        let list = |t: &Table| t.foreign_keys.iter().map(describe_fk).collect::<Vec<_>>().join("; ");
        out.push(changed("foreign keys", &e.name, list(e), list(a)));
    }
    if e.uniques != a.uniques {
        let list = |t: &Table| t.uniques.iter().map(|u| format!("UNIQUE ({})", u.join(", "))).collect::<Vec<_>>();
        out.push(changed("UNIQUE constraints", &e.name, list(e).join("; "), list(a).join("; ")));
    }
    out
}

fn describe_fk(fk: &ForeignKey) -> String {
    format!(
        "({}) REFERENCES {} ({}) ON UPDATE {} ON DELETE {}",
        fk.from.join(", "),
        fk.table,
        fk.to.join(", "),
        fk.on_update,
        fk.on_delete
    )
}

/// Everything that differs between `expected` and `actual`, in the order of
/// `expected`'s objects, then what only `actual` has.
pub fn diff(expected: &Schema, actual: &Schema) -> Vec<Difference> {
    let mut out = Vec::new();
    for t in &expected.tables {
        match actual.table(&t.key) {
            None => out.push(Difference::Missing { kind: "table".into(), name: t.name.clone() }),
            Some(a) => out.extend(table_differences(t, a)),
        }
    }
    for t in &actual.tables {
        if expected.table(&t.key).is_none() {
            out.push(Difference::Extra { kind: "table".into(), name: t.name.clone() });
        }
    }
    for i in &expected.indexes {
        match actual.index(&i.key) {
            None => out.push(Difference::Missing { kind: "index".into(), name: i.name.clone() }),
            Some(a) if !i.same(a) => out.push(changed("index", &i.name, i.describe(), a.describe())),
            Some(_) => {}
        }
    }
    for i in &actual.indexes {
        if expected.index(&i.key).is_none() {
            out.push(Difference::Extra { kind: "index".into(), name: i.name.clone() });
        }
    }
    for o in &expected.others {
        match actual.other(&o.key) {
            None => out.push(Difference::Missing { kind: o.kind.clone(), name: o.name.clone() }),
            Some(a) if a.kind != o.kind || a.norm != o.norm => {
                out.push(changed(&o.kind, &o.name, o.norm.clone(), a.norm.clone()))
            }
            Some(_) => {}
        }
    }
    for o in &actual.others {
        if expected.other(&o.key).is_none() {
            out.push(Difference::Extra { kind: o.kind.clone(), name: o.name.clone() });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Plans

/// The SQL that turns one schema into another, step by step, each with the
/// comment that says why it is there.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    steps: Vec<Step>,
    /// One line per change, for the person running the generator.
    pub summary: Vec<String>,
}

#[derive(Debug, Clone)]
struct Step {
    comment: Vec<String>,
    sql: String,
    /// The table a cheap in-place ALTER of this step belongs to, so a step
    /// SQLite refuses can turn that table into a rebuild.
    alters: Option<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The statements, with their comments, as a migration file's body.
    pub fn sql(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            if !out.is_empty() {
                out.push('\n');
            }
            for line in &step.comment {
                out.push_str("-- ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(&step.sql);
            out.push('\n');
        }
        out
    }

    fn push(&mut self, comment: Vec<String>, sql: String) {
        self.steps.push(Step { comment, sql, alters: None });
    }
}

/// Refusal of a change the generator cannot write safely.
fn refuse(what: String) -> Error {
    Error::Invalid(format!(
        "cannot generate this migration: {what}. Nothing was written. Change schema.sql, or write the migration by \
         hand (`outpost migrate new NAME --empty`) and make schema.sql match what it produces"
    ))
}

enum TableChange<'a> {
    Same,
    Alter { drop: Vec<&'a Column>, add: Vec<&'a Column> },
    Rebuild { reasons: Vec<String> },
}

/// The cheapest safe way from `old` to `new`, or why a rebuild is needed.
fn decide<'a>(old: &'a Table, new: &'a Table, force: Option<&str>) -> Result<TableChange<'a>> {
    if table_differences(new, old).is_empty() {
        return Ok(TableChange::Same);
    }
    if old.is_virtual || new.is_virtual {
        return Err(refuse(format!(
            "table {} changes and is (or becomes) a virtual table; SQLite can neither alter nor copy one \
             mechanically (its rows live in the module's shadow tables)",
            new.name
        )));
    }
    let mut reasons: Vec<String> = force.map(str::to_owned).into_iter().collect();
    let added: Vec<&Column> = new.columns.iter().filter(|c| old.column(&c.key).is_none()).collect();
    let dropped: Vec<&Column> = old.columns.iter().filter(|c| new.column(&c.key).is_none()).collect();
    let added_keys: BTreeSet<&str> = added.iter().map(|c| c.key.as_str()).collect();
    let dropped_keys: BTreeSet<&str> = dropped.iter().map(|c| c.key.as_str()).collect();
    if (old.strict, old.without_rowid, old.autoincrement) != (new.strict, new.without_rowid, new.autoincrement) {
        reasons.push(format!("the table changes from {} to {}", old.options(), new.options()));
    }
    if old.checks != new.checks {
        reasons.push("its table-level CHECK constraints change".into());
    }
    for c in &new.columns {
        if let Some(o) = old.column(&c.key) {
            if !c.same(o) {
                reasons.push(format!(
                    "column {} changes from `{}` to `{}`, which SQLite cannot alter in place",
                    c.name,
                    o.describe(),
                    c.describe()
                ));
            }
        }
    }
    // ADD COLUMN appends and DROP COLUMN keeps the others in place, so the
    // kept columns must stay in order and the new ones come last.
    let kept_new: Vec<&str> =
        new.columns.iter().filter(|c| !added_keys.contains(c.key.as_str())).map(|c| c.key.as_str()).collect();
    let kept_old: Vec<&str> =
        old.columns.iter().filter(|c| !dropped_keys.contains(c.key.as_str())).map(|c| c.key.as_str()).collect();
    let appended = new.columns.iter().skip(kept_new.len()).all(|c| added_keys.contains(c.key.as_str()));
    if kept_new != kept_old || !appended {
        reasons.push(format!(
            "its columns are declared in another order ({}), and ADD COLUMN can only append; declare new columns \
             last to avoid the rebuild",
            new.column_list()
        ));
    }
    for c in &added {
        if let Some(why) = not_addable(new, c) {
            reasons.push(format!("new column {} {why}, which ADD COLUMN cannot add", c.name));
        }
    }
    for c in &dropped {
        if c.pk > 0 {
            reasons.push(format!("column {} is dropped but is part of the primary key", c.name));
        }
    }
    let touches = |cols: &[String], keys: &BTreeSet<&str>| cols.iter().any(|c| keys.contains(c.as_str()));
    let kept_fks = |t: &Table| -> Vec<ForeignKey> {
        t.foreign_keys
            .iter()
            .filter(|fk| !touches(&fk.from, &added_keys) && !touches(&fk.from, &dropped_keys))
            .cloned()
            .collect()
    };
    if kept_fks(old) != kept_fks(new) {
        reasons.push("its foreign keys change".into());
    }
    if old.foreign_keys.iter().any(|fk| touches(&fk.from, &dropped_keys)) {
        reasons.push("a dropped column is part of a foreign key".into());
    }
    let kept_uniques = |t: &Table| -> Vec<Vec<String>> {
        t.uniques.iter().filter(|u| !touches(u, &added_keys) && !touches(u, &dropped_keys)).cloned().collect()
    };
    if kept_uniques(old) != kept_uniques(new) {
        reasons.push("its UNIQUE constraints change".into());
    }
    if old.uniques.iter().any(|u| touches(u, &dropped_keys)) {
        reasons.push("a dropped column is part of a UNIQUE constraint".into());
    }
    if reasons.is_empty() {
        return Ok(TableChange::Alter { drop: dropped, add: added });
    }
    // A rebuild copies rows; a new column must then have a value for them.
    for c in &added {
        if c.not_null && c.default_is_null() && !c.generated() {
            return Err(refuse(format!(
                "table {} needs a rebuild ({}), and its new column {} is NOT NULL without a DEFAULT, so the rows \
                 already there would have no value for it; give it a DEFAULT or let it be NULL",
                new.name,
                reasons.join("; "),
                c.name
            )));
        }
    }
    Ok(TableChange::Rebuild { reasons })
}

/// Why SQLite's ADD COLUMN cannot add `c` to `t` (its documented limits).
fn not_addable(t: &Table, c: &Column) -> Option<String> {
    if c.pk > 0 {
        return Some("is part of the primary key".into());
    }
    if t.uniques.iter().any(|u| u.contains(&c.key)) {
        return Some("is UNIQUE".into());
    }
    if c.hidden == 3 {
        return Some("is a STORED generated column".into());
    }
    if c.not_null && c.default_is_null() && !c.generated() {
        return Some("is NOT NULL without a DEFAULT".into());
    }
    if let Some(d) = &c.default_norm {
        if d.starts_with('(') || matches!(d.as_str(), "current_time" | "current_date" | "current_timestamp") {
            return Some("has a DEFAULT that is not a constant".into());
        }
    }
    if !c.default_is_null() && t.foreign_keys.iter().any(|fk| fk.from.contains(&c.key)) {
        return Some("references another table and has a DEFAULT other than NULL".into());
    }
    None
}

/// The plan from `old` to `new`, with the tables in `rebuild` rebuilt
/// whatever the cheapest way would be (each with the reason).
fn plan_with(old: &Schema, new: &Schema, rebuild: &[(String, String)]) -> Result<Plan> {
    let mut plan = Plan::default();
    let forced = |key: &str| rebuild.iter().find(|(k, _)| k == key).map(|(_, why)| why.as_str());
    let mut changes = Vec::new();
    for t in &new.tables {
        if let Some(o) = old.table(&t.key) {
            changes.push((o, t, decide(o, t, forced(&t.key))?));
        }
    }
    let rebuilt: BTreeSet<&str> = changes
        .iter()
        .filter(|(_, _, c)| matches!(c, TableChange::Rebuild { .. }))
        .map(|(_, t, _)| t.key.as_str())
        .collect();
    let dropped_tables: Vec<&Table> = old.tables.iter().filter(|t| new.table(&t.key).is_none()).collect();
    let new_tables: Vec<&Table> = new.tables.iter().filter(|t| old.table(&t.key).is_none()).collect();
    let gone_or_rebuilt = |key: &str| rebuilt.contains(key) || dropped_tables.iter().any(|t| t.key == key);

    // 1. Views and triggers that change, go, or stand on a table that is
    // rebuilt or dropped: out first, so no rename or drop trips on them.
    let mentions_table = |o: &Other| {
        let toks: BTreeSet<String> = significant(&o.sql).iter().map(Tok::norm).collect();
        rebuilt.iter().any(|k| toks.contains(*k)) || dropped_tables.iter().any(|t| toks.contains(&t.key))
    };
    let mut recreate_others: BTreeSet<String> = BTreeSet::new();
    for o in &old.others {
        let target = new.other(&o.key);
        let same = target.is_some_and(|n| n.kind == o.kind && n.norm == o.norm);
        if same && !mentions_table(o) && !gone_or_rebuilt(&o.table.to_ascii_lowercase()) {
            continue;
        }
        // A trigger on a table that goes goes with it.
        if !(o.kind == "trigger" && gone_or_rebuilt(&o.table.to_ascii_lowercase())) {
            let what = if target.is_none() { "is no longer declared" } else { "is made again below" };
            plan.push(
                vec![format!("{} {} {what}.", o.kind, o.name)],
                format!("DROP {} {};", o.kind.to_ascii_uppercase(), quote(&o.name)),
            );
        }
        if target.is_some() {
            recreate_others.insert(o.key.clone());
        }
    }

    // 2. Indexes that change or go, on tables that stay.
    for i in &old.indexes {
        if gone_or_rebuilt(&i.table_key) {
            // It goes with its table; say so if it does not come back.
            if new.index(&i.key).is_none() {
                plan.summary.push(format!("drop index {} (with its table {})", i.name, i.table));
            }
            continue;
        }
        match new.index(&i.key) {
            Some(n) if n.same(i) => {}
            Some(_) => {
                plan.push(
                    vec![format!("Index {} changes; it is made again below.", i.name)],
                    format!("DROP INDEX {};", quote(&i.name)),
                );
            }
            None => {
                plan.push(
                    vec![format!("Index {} is no longer declared.", i.name)],
                    format!("DROP INDEX {};", quote(&i.name)),
                );
                plan.summary.push(format!("drop index {}", i.name));
            }
        }
    }

    // 3. Tables that go.
    for t in &dropped_tables {
        plan.push(
            vec![
                format!("Table {} is no longer declared: its rows are deleted with it.", t.name),
                "If it was renamed, write ALTER TABLE ... RENAME TO ... by hand instead.".into(),
            ],
            format!("DROP TABLE {};", quote(&t.name)),
        );
        plan.summary.push(format!("drop table {} (and its rows)", t.name));
    }

    // 4. New tables, as declared.
    for t in &new_tables {
        plan.push(vec![format!("New table {}.", t.name)], format!("{};", t.sql));
        plan.summary.push(format!("new table {}", t.name));
    }

    // 5. Tables that change.
    for (old_t, new_t, change) in &changes {
        match change {
            TableChange::Same => {}
            TableChange::Alter { drop, add } => {
                for c in drop {
                    plan.steps.push(Step {
                        comment: vec![
                            format!("Column {}.{} is no longer declared: its values are deleted.", old_t.name, c.name),
                            "If it was renamed, write ALTER TABLE ... RENAME COLUMN ... by hand instead.".into(),
                        ],
                        sql: format!("ALTER TABLE {} DROP COLUMN {};", quote(&new_t.name), quote(&c.name)),
                        alters: Some(new_t.key.clone()),
                    });
                    plan.summary.push(format!("drop column {}.{}", new_t.name, c.name));
                }
                for c in add {
                    plan.steps.push(Step {
                        comment: vec![format!("New column {}.{}.", new_t.name, c.name)],
                        sql: format!("ALTER TABLE {} ADD COLUMN {};", quote(&new_t.name), c.def),
                        alters: Some(new_t.key.clone()),
                    });
                    plan.summary.push(format!("new column {}.{}", new_t.name, c.name));
                }
            }
            TableChange::Rebuild { reasons } => {
                let (comment, sql) = rebuild_sql(old_t, new_t, reasons);
                plan.push(comment, sql);
                plan.summary.push(format!("rebuild table {}: {}", new_t.name, reasons.join("; ")));
            }
        }
    }

    // 6. Indexes that are new or changed, or whose table is new or rebuilt.
    for i in &new.indexes {
        let fresh = rebuilt.contains(i.table_key.as_str()) || new_tables.iter().any(|t| t.key == i.table_key);
        match old.index(&i.key) {
            Some(o) if o.same(i) && !fresh => continue,
            Some(_) if !fresh => plan.summary.push(format!("change index {}", i.name)),
            None => plan.summary.push(format!("new index {}", i.name)),
            _ => {}
        }
        plan.push(vec![format!("Index {}.", i.name)], format!("{};", i.sql));
    }

    // 7. Views and triggers that are new, changed, or were taken out above,
    // and the triggers of new and rebuilt tables.
    for o in &new.others {
        let on_fresh = o.kind == "trigger" && {
            let k = o.table.to_ascii_lowercase();
            rebuilt.contains(k.as_str()) || new_tables.iter().any(|t| t.key == k)
        };
        if old.other(&o.key).is_some() && !recreate_others.contains(&o.key) && !on_fresh {
            continue;
        }
        if old.other(&o.key).is_none() {
            plan.summary.push(format!("new {} {}", o.kind, o.name));
        }
        plan.push(vec![format!("{} {}.", o.kind, o.name)], format!("{};", o.sql));
    }
    for o in &old.others {
        if new.other(&o.key).is_none() {
            plan.summary.push(format!("drop {} {}", o.kind, o.name));
        }
    }
    Ok(plan)
}

/// SQLite's table rebuild: make the declared table under a temporary name,
/// copy the rows, drop the old table and give the new one its name. The
/// indexes and triggers are made again by the later steps of the plan.
fn rebuild_sql(old: &Table, new: &Table, reasons: &[String]) -> (Vec<String>, String) {
    let temp = format!("{REBUILD_PREFIX}{}", new.name);
    let mut comment = vec![format!("Rebuild table {} (SQLite's table-rebuild recipe), because:", new.name)];
    comment.extend(reasons.iter().map(|r| format!("  - {r}")));
    comment.push("Foreign keys are not enforced while migrations run (the migrator switches them".into());
    comment.push("off, as the recipe requires, and runs foreign_key_check before it commits), so".into());
    comment.push("dropping the old table does not cascade to the tables that refer to it.".into());
    let copied: Vec<(&Column, &Column)> =
        new.columns.iter().filter(|c| !c.generated()).filter_map(|c| old.column(&c.key).map(|o| (o, c))).collect();
    for (o, c) in &copied {
        if c.type_norm != o.type_norm {
            comment.push(format!(
                "Values of {} are converted to {} as they are copied; if one does not fit, the",
                c.name,
                if c.decl_type.is_empty() { "no type" } else { &c.decl_type }
            ));
            comment.push("copy fails and the whole migration is rolled back, leaving the store as it was.".into());
        }
        if c.not_null && !o.not_null {
            comment.push(format!(
                "{} becomes NOT NULL: a row holding NULL there makes the copy fail (rolled back).",
                c.name
            ));
        }
    }
    let mut into: Vec<String> = copied.iter().map(|(_, c)| quote(&c.name)).collect();
    let mut from: Vec<String> = copied.iter().map(|(o, _)| quote(&o.name)).collect();
    // Rowids that are no column's would be renumbered; keep them.
    if old.has_own_rowid() && new.has_own_rowid() {
        into.insert(0, "rowid".into());
        from.insert(0, "rowid".into());
    }
    let mut sql = format!("{};\n", rename_create(&new.sql, &temp));
    if into.is_empty() {
        comment.push("No column is kept, so no row is copied.".into());
    } else {
        sql.push_str(&format!(
            "INSERT INTO {} ({})\n    SELECT {} FROM {};\n",
            quote(&temp),
            into.join(", "),
            from.join(", "),
            quote(&old.name)
        ));
    }
    if old.autoincrement && new.autoincrement {
        // Keep the AUTOINCREMENT counter, so no number is ever handed out twice.
        sql.push_str(&format!(
            "DELETE FROM sqlite_sequence WHERE name = '{t}';\nINSERT INTO sqlite_sequence (name, seq)\n    SELECT '{t}', seq FROM sqlite_sequence WHERE name = '{o}';\n",
            t = temp.replace('\'', "''"),
            o = old.name.replace('\'', "''")
        ));
    }
    sql.push_str(&format!("DROP TABLE {};\n", quote(&old.name)));
    sql.push_str(&format!("ALTER TABLE {} RENAME TO {};", quote(&temp), quote(&new.name)));
    (comment, sql)
}

/// `CREATE TABLE name (...)` with another name.
fn rename_create(sql: &str, name: &str) -> String {
    let toks = significant(sql);
    match toks.iter().position(|t| t.is("(")) {
        Some(open) if open > 0 => {
            let t = toks[open - 1];
            format!("{}{}{}", &sql[..t.start], quote(name), &sql[t.end..])
        }
        _ => sql.to_owned(),
    }
}

/// Run `plan` on a copy of `old` the way the migrator does (one transaction,
/// foreign keys off). On failure: the table whose in-place ALTER failed, if
/// that is what failed, and SQLite's message.
fn try_plan(old: &Schema, plan: &Plan) -> Result<std::result::Result<Schema, (Option<String>, String)>> {
    let conn = old.materialise()?;
    let tx = conn.unchecked_transaction()?;
    for step in &plan.steps {
        if let Err(e) = tx.execute_batch(&step.sql) {
            let first_line = step.sql.lines().next().unwrap_or_default().to_owned();
            return Ok(Err((step.alters.clone(), format!("the step that begins `{first_line}` fails: {e}"))));
        }
    }
    tx.commit()?;
    Ok(Ok(Schema::read(&conn)?))
}

/// The SQL that turns `old` into `new`, proven on a copy of `old`: the plan
/// runs there and leaves exactly `new`. A cheap in-place step SQLite refuses
/// (DROP COLUMN of an indexed or checked column, say) or that falls short
/// turns its table into a rebuild; what still cannot reach `new` is refused
/// with the reason.
pub fn generate(old: &Schema, new: &Schema) -> Result<Plan> {
    let mut rebuild: Vec<(String, String)> = Vec::new();
    // Each round turns at least one more table into a rebuild, or ends.
    for _ in 0..=new.tables.len() {
        let plan = plan_with(old, new, &rebuild)?;
        let reached = match try_plan(old, &plan)? {
            Ok(reached) => reached,
            Err((Some(table), why)) if !rebuild.iter().any(|(k, _)| *k == table) => {
                rebuild.push((table, format!("the in-place ALTER TABLE is refused by SQLite ({why})")));
                continue;
            }
            Err((_, why)) => return Err(refuse(format!("the generated SQL does not run on the old schema: {why}"))),
        };
        let left = diff(new, &reached);
        if left.is_empty() {
            return Ok(plan);
        }
        let short: Vec<String> = plan
            .steps
            .iter()
            .filter_map(|s| s.alters.clone())
            .filter(|k| !rebuild.iter().any(|(r, _)| r == k))
            .filter(|k| match (new.table(k), reached.table(k)) {
                (Some(n), Some(r)) => !table_differences(n, r).is_empty(),
                _ => true,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if short.is_empty() {
            let left: Vec<String> = left.iter().map(describe_difference).collect();
            return Err(refuse(format!("the generated SQL would not reach schema.sql: {}", left.join("; "))));
        }
        for k in short {
            rebuild.push((k, "ALTER TABLE in place does not reach the declared table".into()));
        }
    }
    Err(refuse("no plan reaches schema.sql".into()))
}

pub fn describe_difference(d: &Difference) -> String {
    match d {
        Difference::Missing { kind, name } => format!("missing {kind} {name}"),
        Difference::Extra { kind, name } => format!("unexpected {kind} {name}"),
        Difference::Changed { kind, name, expected, actual } => {
            format!("{kind} {name} differs (expected: {expected}; actual: {actual})")
        }
    }
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
