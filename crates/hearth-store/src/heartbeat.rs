//! Heartbeat ticks and probe state: what each tick did, and the hash of each probe's
//! output at the last tick that took it in (so "changed since the last tick" survives
//! restarts). Deciding whether a tick wakes the model belongs to the gateway's
//! heartbeat; this module only records.

use std::collections::BTreeMap;

use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};

use crate::error::AtDatabase;
use crate::{Store, StoreError};

/// The current time as SQLite writes it (UTC, milliseconds).
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// What a tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TickOutcome {
    /// No news: no model call.
    Quiet,
    /// The model was woken and answered.
    Woke,
    /// The model was woken and the turn failed (`detail` says why).
    Failed,
}

impl TickOutcome {
    fn as_sql(self) -> &'static str {
        match self {
            Self::Quiet => "quiet",
            Self::Woke => "woke",
            Self::Failed => "failed",
        }
    }

    fn from_sql(text: &str) -> Self {
        match text {
            "woke" => Self::Woke,
            "failed" => Self::Failed,
            _ => Self::Quiet,
        }
    }
}

/// A tick to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTick {
    /// UTC time text (`2026-12-05T08:00:00.000Z`).
    pub started_at: String,
    pub outcome: TickOutcome,
    /// Probes whose output changed since the last tick.
    pub changed: Vec<String>,
    /// Probes that exited asking for attention.
    pub attention: Vec<String>,
    pub session_id: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Probe failures, or why the woken turn failed; empty otherwise.
    pub detail: String,
}

/// A recorded tick, as `hearth heartbeat history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeartbeatTick {
    pub id: i64,
    pub started_at: String,
    pub ended_at: String,
    pub outcome: TickOutcome,
    pub changed: Vec<String>,
    pub attention: Vec<String>,
    pub session_id: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub detail: String,
}

const TICK_COLUMNS: &str = "id, started_at, ended_at, outcome, changed, attention, session_id,
    input_tokens, output_tokens, detail";

impl Store {
    /// Each probe's output hash at the last tick that took it in, by probe name.
    pub fn probe_hashes(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT name, output_hash FROM heartbeat_probes")
            .at(self.path())?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }

    /// Records `tick` and the probes' new output hashes (`(name, hash)`) in one
    /// transaction; returns the tick as stored.
    pub fn record_heartbeat_tick(
        &self,
        tick: &NewTick,
        hashes: &[(String, String)],
    ) -> Result<HeartbeatTick, StoreError> {
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        let sql = format!(
            "INSERT INTO heartbeat_ticks (started_at, ended_at, outcome, changed, attention,
                 session_id, input_tokens, output_tokens, detail)
             VALUES (?1, {NOW}, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        );
        tx.execute(
            &sql,
            params![
                tick.started_at,
                tick.outcome.as_sql(),
                names_json(&tick.changed),
                names_json(&tick.attention),
                tick.session_id,
                i64::try_from(tick.input_tokens).unwrap_or(i64::MAX),
                i64::try_from(tick.output_tokens).unwrap_or(i64::MAX),
                tick.detail,
            ],
        )
        .at(self.path())?;
        let id = tx.last_insert_rowid();
        let upsert = format!(
            "INSERT INTO heartbeat_probes (name, output_hash, updated_at) VALUES (?1, ?2, {NOW})
             ON CONFLICT (name) DO UPDATE SET output_hash = excluded.output_hash,
                 updated_at = excluded.updated_at"
        );
        for (name, hash) in hashes {
            tx.execute(&upsert, params![name, hash]).at(self.path())?;
        }
        let sql = format!("SELECT {TICK_COLUMNS} FROM heartbeat_ticks WHERE id = ?1");
        let stored = tx.query_row(&sql, [id], tick_from_row).at(self.path())?;
        tx.commit().at(self.path())?;
        Ok(stored)
    }

    /// The latest ticks first, at most `limit`.
    pub fn heartbeat_ticks(&self, limit: usize) -> Result<Vec<HeartbeatTick>, StoreError> {
        let connection = self.connection();
        let sql = format!("SELECT {TICK_COLUMNS} FROM heartbeat_ticks ORDER BY id DESC LIMIT ?1");
        let mut statement = connection.prepare_cached(&sql).at(self.path())?;
        let rows = statement
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], tick_from_row)
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }
}

fn names_json(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "[]".into())
}

fn names_from_json(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn tick_from_row(row: &Row<'_>) -> rusqlite::Result<HeartbeatTick> {
    let outcome: String = row.get(3)?;
    let changed: String = row.get(4)?;
    let attention: String = row.get(5)?;
    Ok(HeartbeatTick {
        id: row.get(0)?,
        started_at: row.get(1)?,
        ended_at: row.get(2)?,
        outcome: TickOutcome::from_sql(&outcome),
        changed: names_from_json(&changed),
        attention: names_from_json(&attention),
        session_id: row.get(6)?,
        input_tokens: row.get(7)?,
        output_tokens: row.get(8)?,
        detail: row.get(9)?,
    })
}
