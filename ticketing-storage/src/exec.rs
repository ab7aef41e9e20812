//! A statement runner: the shared SQL's multi-statement steps (placing an order, changing it,
//! enqueuing a job) are written once against [`Exec`], inside a transaction the caller opened,
//! and run on sqlx's connections (SQLite's pool, Postgres) and on SQLite's write lane (rusqlite,
//! in place on the caller's thread) alike.
//!
//! On the lane the statements run synchronously: the step's future is ready at its first poll,
//! and [`ready`] takes its output without an executor.

use std::borrow::Cow;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use ticketing_core::store::StoreError;

use crate::codec::{Columns, Param};

/// Runs statements (with `$1`, `$2`… parameters) on one connection, inside the caller's
/// transaction. A statement's text is ours (constants, or placeholders numbered by [`values`] and
/// [`list`]): values only ever travel as parameters.
pub(crate) trait Exec {
    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: Cow<'static, str>, params: Vec<Param>) -> impl Future<Output = Result<u64, StoreError>>;

    /// The rows of a query, each decoded.
    fn query<T>(
        &mut self,
        sql: Cow<'static, str>,
        params: Vec<Param>,
        decode: impl FnMut(&dyn Columns) -> Result<T, StoreError>,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>>;

    /// The first row of a query, decoded (`None` when there is none).
    fn query_opt<T>(
        &mut self,
        sql: Cow<'static, str>,
        params: Vec<Param>,
        decode: impl FnMut(&dyn Columns) -> Result<T, StoreError>,
    ) -> impl Future<Output = Result<Option<T>, StoreError>> {
        async move { Ok(self.query(sql, params, decode).await?.into_iter().next()) }
    }
}

/// What a step decided: to keep its writes, or to drop them (an answer that changes nothing: a
/// repeat, a lost compare-and-set after something was written).
#[derive(Debug)]
pub(crate) enum Decided<T> {
    /// Commit, and answer this.
    Commit(T),
    /// Roll back, and answer this.
    Rollback(T),
}

/// The output of a step run on a synchronous [`Exec`], whose futures are ready at once.
pub(crate) fn ready<T>(step: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    match pin!(step).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(done) => done,
        Poll::Pending => Err(StoreError::Unavailable("a synchronous step waited".into())),
    }
}

/// An insert's `INSERT INTO table (columns)`, and how many columns (parameters a row).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Table {
    /// `INSERT INTO table (columns)`.
    pub(crate) head: &'static str,
    /// Its number of columns.
    pub(crate) width: usize,
}

impl Table {
    /// The insert of `rows` rows, parameters numbered from `$1`.
    pub(crate) fn insert(&self, rows: usize) -> String {
        format!("{} VALUES {}", self.head, values(self.width, rows))
    }
}

/// `($1, $2, …), (…)` for `rows` rows of `width` parameters each, numbered from `$1`.
pub(crate) fn values(width: usize, rows: usize) -> String {
    values_from(1, width, rows)
}

/// [`values`] numbered from `$first`.
pub(crate) fn values_from(first: usize, width: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(first + row * width + column).to_string());
        }
        sql.push(')');
    }
    sql
}

/// `sql` with each parameter `$n` written by `write(n, out)` instead; `None` when `write` refuses
/// one (answers `false`) or a `$` is not followed by a number. The shared statements have no `$`
/// but their parameters.
pub(crate) fn renumbered(sql: &str, mut write: impl FnMut(usize, &mut String) -> bool) -> Option<String> {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        let n = rest[at + 1..at + 1 + digits].parse().ok()?;
        if !write(n, &mut out) {
            return None;
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    Some(out)
}

/// `$from, $from+1, …` for a list of `n` parameters (an `IN (…)`).
pub(crate) fn list(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(values(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(values(3, 1), "($1, $2, $3)");
        assert_eq!(values_from(4, 2, 1), "($4, $5)");
        assert_eq!(list(2, 3), "$2, $3, $4");
        let shifted = renumbered("a = $2 AND b = $10", |n, out| {
            out.push_str(&format!("${}", n + 1));
            true
        });
        assert_eq!(shifted.as_deref(), Some("a = $3 AND b = $11"));
        assert_eq!(renumbered("a = $x", |_, _| true), None);
        assert_eq!(renumbered("a = $1", |_, _| false), None);
    }

    #[test]
    fn a_step_that_waits_is_refused() {
        let waits = async {
            std::future::pending::<()>().await;
            Ok(())
        };
        assert!(matches!(ready(waits), Err(StoreError::Unavailable(_))));
        assert_eq!(ready(async { Ok(7) }).unwrap(), 7);
    }
}
