//! The tokens of SQL text, for what no pragma exposes (CHECK, COLLATE,
//! generated columns, AUTOINCREMENT, expression and partial indexes):
//! compared token by token, so layout, comments and quoting never count.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) struct Tok<'a> {
    pub(super) kind: Kind,
    pub(super) text: &'a str,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Tok<'_> {
    pub(super) fn significant(&self) -> bool {
        !matches!(self.kind, Kind::Space | Kind::Comment)
    }

    pub(super) fn is_word(&self, w: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(w)
    }

    pub(super) fn is(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.text == p
    }

    /// Keywords and identifiers are case-insensitive in SQLite and an
    /// identifier means the same quoted or not; literals stay as written.
    pub(super) fn norm(&self) -> String {
        match self.kind {
            Kind::Word => self.text.to_ascii_lowercase(),
            Kind::Ident => unquote(self.text).to_ascii_lowercase(),
            _ => self.text.to_owned(),
        }
    }
}

pub(super) fn unquote(t: &str) -> String {
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
pub(super) fn tokenize(sql: &str) -> Vec<Tok<'_>> {
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

pub(super) fn significant(sql: &str) -> Vec<Tok<'_>> {
    tokenize(sql).into_iter().filter(Tok::significant).collect()
}

pub(super) fn norm_tokens(toks: &[Tok<'_>]) -> String {
    toks.iter().map(Tok::norm).collect::<Vec<_>>().join(" ")
}

/// Normalised text of a whole statement or expression.
pub(super) fn norm_sql(sql: &str) -> String {
    norm_tokens(&significant(sql))
}

/// The index of the `)` that closes the `(` at `open`.
pub(super) fn closing(toks: &[Tok<'_>], open: usize) -> Option<usize> {
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
pub(super) fn split_commas<'t, 'a>(toks: &'t [Tok<'a>]) -> Vec<&'t [Tok<'a>]> {
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
pub(super) fn clean_text(sql: &str, first: &Tok<'_>, last: &Tok<'_>) -> String {
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

/// An index's key elements (normalised, without ASC/DESC/COLLATE, which
/// the pragmas report) and its WHERE condition.
pub(super) fn parse_index(sql: &str) -> (Vec<String>, Option<String>) {
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
pub(super) struct TableText {
    pub(super) columns: Vec<ColumnText>,
    pub(super) checks: Vec<String>,
    pub(super) autoincrement: bool,
}

#[derive(Debug)]
pub(super) struct ColumnText {
    pub(super) key: String,
    pub(super) def: String,
    pub(super) extras: Vec<String>,
}

/// Read what the pragmas do not tell from a `CREATE TABLE` text.
pub(super) fn parse_table(sql: &str) -> TableText {
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
pub(super) fn starts_clause(prev: Option<&Tok<'_>>, t: &Tok<'_>, next: Option<&Tok<'_>>) -> bool {
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
