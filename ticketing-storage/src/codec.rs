//! How domain values are written to and read from SQL columns, the same way on every dialect:
//! instants as Unix microseconds, calendar days as days from the common era, lists as
//! comma-separated text, enums by their stable names.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use ticketing_core::store::StoreError;
use uuid::Uuid;

/// An instant as Unix microseconds.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// Unix microseconds back to an instant.
pub(crate) fn instant(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt("timestamp", micros))
}

/// An optional instant.
pub(crate) fn opt_instant(micros: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    micros.map(instant).transpose()
}

/// A calendar day as days from the common era.
pub(crate) fn day(date: NaiveDate) -> i32 {
    date.num_days_from_ce()
}

/// Days from the common era back to a date.
pub(crate) fn date(days: i32) -> Result<NaiveDate, StoreError> {
    NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| corrupt("date", days))
}

/// A list as comma-separated text (the items never contain commas).
pub(crate) fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Comma-separated text back to a list.
pub(crate) fn split<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, StoreError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',').map(|item| item.parse().map_err(|_| corrupt("list item", item))).collect()
}

/// A scan direction back from its stored name.
pub(crate) fn direction(name: &str) -> Result<ticketing_core::scan::Direction, StoreError> {
    use ticketing_core::scan::Direction;
    match name {
        "in" => Ok(Direction::In),
        "out" => Ok(Direction::Out),
        other => Err(corrupt("direction", other)),
    }
}

/// When a lock taken at `now` for `ttl` expires; saturates instead of overflowing.
pub(crate) fn expiry(now: DateTime<Utc>, ttl: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(ttl).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A stored count back to `u32`.
pub(crate) fn count(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| corrupt("count", n))
}

/// A value that does not read back as what was written.
pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value}"))
}

/// A result row as the decoders read it: a column by name, as one of the few SQL types we store.
/// Each driver's rows implement it, so one decoder serves every driver.
pub(crate) trait Columns {
    /// A text column.
    fn text(&self, column: &str) -> Result<Option<String>, StoreError>;
    /// A 64-bit integer column.
    fn int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    /// A 32-bit integer column (Postgres `INTEGER`).
    fn int32(&self, column: &str) -> Result<Option<i32>, StoreError>;
    /// A UUID column.
    fn uuid(&self, column: &str) -> Result<Option<Uuid>, StoreError>;
    /// A boolean column.
    fn flag(&self, column: &str) -> Result<Option<bool>, StoreError>;
    /// A bytes column (SQLite `BLOB`, Postgres `BYTEA`).
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// A Rust type a column reads as: nullable as `Option`, required otherwise.
pub(crate) trait Column: Sized {
    /// Reads `column` of `row`.
    fn read<R: Columns + ?Sized>(row: &R, column: &str) -> Result<Self, StoreError>;
}

macro_rules! column {
    ($($t:ty => $method:ident),* $(,)?) => {$(
        impl Column for Option<$t> {
            fn read<R: Columns + ?Sized>(row: &R, column: &str) -> Result<Self, StoreError> {
                row.$method(column)
            }
        }
        impl Column for $t {
            fn read<R: Columns + ?Sized>(row: &R, column: &str) -> Result<Self, StoreError> {
                row.$method(column)?.ok_or_else(|| corrupt("null in column", column))
            }
        }
    )*};
}

column!(String => text, i64 => int, i32 => int32, Uuid => uuid, bool => flag, Vec<u8> => bytes);

/// Column `column` of `row`.
pub(crate) fn get<T: Column, R: Columns + ?Sized>(row: &R, column: &str) -> Result<T, StoreError> {
    T::read(row, column)
}

/// A value bound to a statement parameter, the same for every driver (each binds it as its own
/// type: a UUID is Postgres's `uuid` and a 16-byte blob on SQLite).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    /// A 64-bit integer.
    Int(Option<i64>),
    /// A 32-bit integer (Postgres `INTEGER`).
    Int32(Option<i32>),
    /// Text.
    Text(Option<String>),
    /// A UUID.
    Uuid(Option<Uuid>),
    /// Bytes.
    Bytes(Option<Vec<u8>>),
    /// A boolean (an integer 0 / 1 on SQLite).
    Flag(Option<bool>),
}

impl Param {
    /// Text from a stable name.
    pub(crate) fn name(name: &str) -> Self {
        Self::Text(Some(name.to_owned()))
    }

    /// Bytes.
    pub(crate) fn bytes(bytes: &[u8]) -> Self {
        Self::Bytes(Some(bytes.to_vec()))
    }

    /// A count or version, saturating at `i64::MAX`.
    pub(crate) fn unsigned(n: u64) -> Self {
        Self::Int(Some(i64::try_from(n).unwrap_or(i64::MAX)))
    }
}

/// [`db_error`], with a foreign key's violation named as `what` was not found (the row the
/// statement refers to).
pub(crate) fn missing(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| db_error(e).naming(what)
}

/// Maps a driver error: a unique key's or a check's refusal to `Conflict` in our words
/// ([`crate::refusal`]), a foreign key's to `NotFound`, an unreadable value to `Corrupt`,
/// anything else to `Unavailable` (the caller's transaction is dropped, so nothing was written).
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() || d.is_check_violation() => {
            crate::refusal::conflict(d.as_ref())
        }
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound("referenced row"),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
            StoreError::Corrupt(e.to_string())
        }
        _ => StoreError::Unavailable(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let at = DateTime::from_timestamp_micros(1_800_000_000_123_456).unwrap();
        assert_eq!(instant(micros(at)).unwrap(), at);
        let d = NaiveDate::from_ymd_opt(2027, 7, 1).unwrap();
        assert_eq!(date(day(d)).unwrap(), d);
        let ids = vec![Uuid::from_u128(1), Uuid::from_u128(2)];
        assert_eq!(split::<Uuid>(&join(&ids)).unwrap(), ids);
        assert_eq!(split::<Uuid>("").unwrap(), Vec::<Uuid>::new());
        assert!(matches!(split::<Uuid>("x"), Err(StoreError::Corrupt(_))));
        assert!(matches!(count(-1), Err(StoreError::Corrupt(_))));
        assert_eq!(direction("out").unwrap(), ticketing_core::scan::Direction::Out);
        assert!(matches!(direction("up"), Err(StoreError::Corrupt(_))));
        assert_eq!(expiry(at, std::time::Duration::from_secs(2)), at + chrono::Duration::seconds(2));
        assert_eq!(expiry(at, std::time::Duration::MAX), DateTime::<Utc>::MAX_UTC);
    }
}
