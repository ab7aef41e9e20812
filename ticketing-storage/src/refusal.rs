//! What a client is told when the database refuses a write for a unique key or a check: the same
//! words on every dialect, and nothing of the database's own text (its constraint names and the
//! values it quotes differ between SQLite and Postgres, and are not for clients). That text is
//! logged, inside the request's span.

use sqlx::error::DatabaseError;
use ticketing_core::store::StoreError;

/// What a unique key of the schema means to a client, by its table and columns. A key not
/// listed is named by its table and columns.
const KEYS: &[(&str, &[&str], &str)] = &[
    ("ticket_types", &["event_id", "name_key"], ticketing_core::ticket_type::NAME_TAKEN),
    ("users", &["email_key"], ticketing_core::user::EMAIL_TAKEN),
    ("ticket_templates", &["event_id", "name"], ticketing_core::template::NAME_TAKEN),
];

/// The conflict a unique key's or a check's refusal of a write is (sqlx's error), in words of
/// our own.
pub(crate) fn conflict(refusal: &dyn DatabaseError) -> StoreError {
    let key = refusal.is_unique_violation().then(|| unique_key(refusal));
    refused(key, refusal.message())
}

/// [`conflict`] of SQLite's own refusal (rusqlite's, on the write lanes): `unique` for a unique
/// or primary key, else a check.
pub(crate) fn sqlite_conflict(unique: bool, message: &str) -> StoreError {
    refused(unique.then(|| sqlite_key(message)), message)
}

/// The conflict of a refusal by the unique key `key` (`None` inside: not recognised), or by a
/// check when `key` is `None`, whose database text is `detail`.
fn refused(key: Option<Option<(String, Vec<String>)>>, detail: &str) -> StoreError {
    tracing::info!(detail, "the database refused a write");
    let said = match key {
        Some(Some((table, columns))) => {
            KEYS.iter().find(|(t, c, _)| *t == table && *c == columns.as_slice()).map_or_else(
                || format!("a stored {table} row has the same {}", columns.join(", ")),
                |(_, _, said)| (*said).to_owned(),
            )
        }
        Some(None) => "the write repeats a stored unique value".to_owned(),
        None => "the write breaks a rule of the stored data".to_owned(),
    };
    StoreError::Conflict(said)
}

/// The table and columns of the unique key that refused a write: from Postgres's detail
/// (`Key (a, b)=(…) already exists.`) and table, or SQLite's message
/// (`UNIQUE constraint failed: t.a, t.b`).
fn unique_key(refusal: &dyn DatabaseError) -> Option<(String, Vec<String>)> {
    if let Some(pg) = refusal.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let columns = pg.detail()?.strip_prefix("Key (")?.split_once(")=")?.0;
        return Some((pg.table()?.to_owned(), columns.split(", ").map(str::to_owned).collect()));
    }
    sqlite_key(refusal.message())
}

/// [`unique_key`] of SQLite's message.
fn sqlite_key(message: &str) -> Option<(String, Vec<String>)> {
    let mut table = None;
    let mut columns = Vec::new();
    for named in message.strip_prefix("UNIQUE constraint failed: ")?.split(", ") {
        let (t, column) = named.split_once('.')?;
        if *table.get_or_insert(t) != t {
            return None;
        }
        columns.push(column.to_owned());
    }
    Some((table?.to_owned(), columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_names_the_table_and_columns() {
        let key = |t: &str, c: &[&str]| Some((t.to_owned(), c.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>()));
        assert_eq!(sqlite_key("UNIQUE constraint failed: users.email_key"), key("users", &["email_key"]));
        assert_eq!(
            sqlite_key("UNIQUE constraint failed: ticket_types.event_id, ticket_types.name_key"),
            key("ticket_types", &["event_id", "name_key"])
        );
        assert_eq!(sqlite_key("UNIQUE constraint failed: a.x, b.y"), None, "one table");
        assert_eq!(sqlite_key("CHECK constraint failed: quota >= 0"), None);
        assert_eq!(sqlite_key("UNIQUE constraint failed: index 'orders_by_key'"), None);
    }
}
