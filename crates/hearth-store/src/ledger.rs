//! The cost ledger: every model call's tokens and cost (USD) as stored with its answer
//! (`usage_records`), read back as sums for budgets and as rows for `hearth usage`.
//! Days are UTC days: `created_at` is stored in UTC.

use hearth_protocol::Usage;
use rusqlite::params;
use serde::Serialize;

use crate::error::AtDatabase;
use crate::{Store, StoreError};

/// One model call as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    pub session_id: String,
    /// `provider:model`.
    pub model: String,
    /// When the answer was stored, UTC (`2026-12-05T06:51:26.123Z`).
    pub created_at: String,
    pub usage: Usage,
    pub cost_usd: f64,
}

impl Store {
    /// What the session's model calls cost, in USD (0 for a session with none).
    pub fn session_cost_usd(&self, session_id: &str) -> Result<f64, StoreError> {
        let connection = self.connection();
        connection
            .query_row(
                "SELECT coalesce(sum(cost_usd), 0.0) FROM usage_records WHERE session_id = ?1",
                [session_id],
                |row| row.get(0),
            )
            .at(self.path())
    }

    /// What every model call since the start of today (UTC) cost, in USD.
    pub fn today_cost_usd(&self) -> Result<f64, StoreError> {
        let connection = self.connection();
        connection
            .query_row(
                "SELECT coalesce(sum(cost_usd), 0.0) FROM usage_records
                 WHERE created_at >= strftime('%Y-%m-%dT00:00:00.000Z', 'now')",
                [],
                |row| row.get(0),
            )
            .at(self.path())
    }

    /// Every model call stored at or after `since` (a UTC date `YYYY-MM-DD` or a
    /// timestamp in the stored form; all calls when `None`), oldest first.
    pub fn calls(&self, since: Option<&str>) -> Result<Vec<CallRecord>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT session_id, model, created_at, input_tokens, output_tokens,
                        cached_tokens, cache_creation_tokens, cost_usd
                 FROM usage_records WHERE created_at >= ?1 ORDER BY created_at, id",
            )
            .at(self.path())?;
        let rows = statement
            .query_map(params![since.unwrap_or("")], |row| {
                let tokens = |index: usize| -> rusqlite::Result<u64> {
                    Ok(u64::try_from(row.get::<_, i64>(index)?).unwrap_or(0))
                };
                Ok(CallRecord {
                    session_id: row.get(0)?,
                    model: row.get(1)?,
                    created_at: row.get(2)?,
                    usage: Usage {
                        input_tokens: tokens(3)?,
                        output_tokens: tokens(4)?,
                        cached_tokens: tokens(5)?,
                        cache_creation_tokens: tokens(6)?,
                    },
                    cost_usd: row.get(7)?,
                })
            })
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }
}
