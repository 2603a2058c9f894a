//! The plan that turns one schema into another: per table the cheapest
//! change SQLite makes in place, else its documented table rebuild; every
//! plan tried on a copy of the old schema before it is handed out.

use std::collections::BTreeSet;

use super::diff::{describe_difference, diff, table_differences};
use super::sql::{quote, significant, Tok};
use super::{Column, ForeignKey, Other, Schema, Table, REBUILD_PREFIX};
use crate::error::{Error, Result};

/// The SQL that turns one schema into another, step by step, each with the
/// comment that says why it is there.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub(super) steps: Vec<Step>,
    /// One line per change, for the person running the generator.
    pub summary: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Step {
    pub(super) comment: Vec<String>,
    pub(super) sql: String,
    /// The table a cheap in-place ALTER of this step belongs to, so a step
    /// SQLite refuses can turn that table into a rebuild.
    pub(super) alters: Option<String>,
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

    pub(super) fn push(&mut self, comment: Vec<String>, sql: String) {
        self.steps.push(Step { comment, sql, alters: None });
    }
}

/// Refusal of a change the generator cannot write safely.
pub(super) fn refuse(what: String) -> Error {
    Error::Invalid(format!(
        "cannot generate this migration: {what}. Nothing was written. Change schema.sql, or write the migration by \
         hand (`outpost migrate new NAME --empty`) and make schema.sql match what it produces"
    ))
}

pub(super) enum TableChange<'a> {
    Same,
    Alter { drop: Vec<&'a Column>, add: Vec<&'a Column> },
    Rebuild { reasons: Vec<String> },
}

/// The cheapest safe way from `old` to `new`, or why a rebuild is needed.
pub(super) fn decide<'a>(old: &'a Table, new: &'a Table, force: Option<&str>) -> Result<TableChange<'a>> {
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
pub(super) fn not_addable(t: &Table, c: &Column) -> Option<String> {
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
pub(super) fn plan_with(old: &Schema, new: &Schema, rebuild: &[(String, String)]) -> Result<Plan> {
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
pub(super) fn rebuild_sql(old: &Table, new: &Table, reasons: &[String]) -> (Vec<String>, String) {
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
pub(super) fn rename_create(sql: &str, name: &str) -> String {
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
pub(super) fn try_plan(old: &Schema, plan: &Plan) -> Result<std::result::Result<Schema, (Option<String>, String)>> {
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
