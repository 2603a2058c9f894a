//! Differences between two schemas, in words a developer can act on.

use super::{norm_other, ForeignKey, Schema, Table};

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

pub(super) fn changed(kind: &str, name: &str, expected: String, actual: String) -> Difference {
    Difference::Changed { kind: kind.to_owned(), name: name.to_owned(), expected, actual }
}

/// What differs between two versions of one table.
pub(super) fn table_differences(e: &Table, a: &Table) -> Vec<Difference> {
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

pub(super) fn describe_fk(fk: &ForeignKey) -> String {
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

/// One difference in a line.
pub fn describe_difference(d: &Difference) -> String {
    match d {
        Difference::Missing { kind, name } => format!("missing {kind} {name}"),
        Difference::Extra { kind, name } => format!("unexpected {kind} {name}"),
        Difference::Changed { kind, name, expected, actual } => {
            format!("{kind} {name} differs (expected: {expected}; actual: {actual})")
        }
    }
}
