//! Sub-agent sessions: a child session records the session that spawned it
//! (`parent_id`, schema 6), so `hearth sessions show` can nest children under their
//! parent and budgets can count a whole family's spending.

use std::path::Path;

use rusqlite::{params, OptionalExtension};

use crate::error::AtDatabase;
use crate::store::{insert_session, session_by_id, SESSION_COLUMNS};
use crate::{SessionInfo, Store, StoreError};

/// The sessions of `id`'s family: its root ancestor and every descendant of that root.
const FAMILY: &str = "
WITH RECURSIVE
    up(id, parent_id) AS (
        SELECT id, parent_id FROM sessions WHERE id = ?1
        UNION SELECT s.id, s.parent_id FROM sessions s JOIN up ON s.id = up.parent_id
    ),
    family(id) AS (
        SELECT id FROM up WHERE parent_id IS NULL
        UNION SELECT s.id FROM sessions s JOIN family ON s.parent_id = family.id
    )";

impl Store {
    /// Starts a new, empty session spawned by `parent_id` (a sub-agent's).
    pub fn create_child_session(
        &self,
        model: &str,
        workspace: &Path,
        parent_id: &str,
    ) -> Result<SessionInfo, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        self.require_session(&tx, parent_id)?;
        insert_session(&tx, &id, model, &workspace.to_string_lossy()).at(self.path())?;
        tx.execute(
            "UPDATE sessions SET parent_id = ?2 WHERE id = ?1",
            params![id, parent_id],
        )
        .at(self.path())?;
        let info = session_by_id(&tx, &id).at(self.path())?;
        tx.commit().at(self.path())?;
        info.ok_or(StoreError::SessionNotFound { query: id })
    }

    /// The sessions `session_id` spawned, oldest first.
    pub fn child_sessions(&self, session_id: &str) -> Result<Vec<SessionInfo>, StoreError> {
        let connection = self.connection();
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.parent_id = ?1 ORDER BY s.id"
        );
        let mut statement = connection.prepare_cached(&sql).at(self.path())?;
        let rows = statement
            .query_map([session_id], SessionInfo::from_row)
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }

    /// The session that spawned `session_id`, if any.
    pub fn parent_id(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        let connection = self.connection();
        connection
            .query_row(
                "SELECT parent_id FROM sessions WHERE id = ?1",
                [session_id],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .at(self.path())
    }

    /// What the model calls of `session_id`'s whole family cost in USD: its root
    /// session's and every sub-agent's under it (a child's spending counts toward its
    /// parent's `session_usd`, and the parent's toward the child's).
    pub fn family_cost_usd(&self, session_id: &str) -> Result<f64, StoreError> {
        let connection = self.connection();
        connection
            .query_row(
                &format!(
                    "{FAMILY} SELECT coalesce(sum(cost_usd), 0.0) FROM usage_records
                     WHERE session_id IN (SELECT id FROM family)"
                ),
                [session_id],
                |row| row.get(0),
            )
            .at(self.path())
    }
}
