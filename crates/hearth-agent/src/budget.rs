//! Budgets: `[budget] daily_usd` and `session_usd`. Before each model call the loop
//! checks `spent so far + this request's estimated input cost > limit`; a call that
//! would pass a limit is not made and the turn stops naming the budget and the fix.
//! The estimate counts the request's input only (4 characters a token, at the model's
//! uncached input price): the output is not known before the call, so a call may end
//! a little over a limit, and the next one is refused.

use hearth_models::ModelProfile;
use hearth_store::{AsyncStore, StoreError};

/// Spending limits in USD; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    /// The most all model calls of a UTC day may cost, across sessions.
    pub daily_usd: Option<f64>,
    /// The most one session's model calls may cost.
    pub session_usd: Option<f64>,
}

/// A model call refused because it would pass a budget.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "Stopped before a model call: it would pass the {scope} budget ([budget] {key} = {limit_usd:.2} USD): \
     {spent_usd:.4} USD spent {spent_where} + about {estimate_usd:.4} USD for this request's input. \
     Raise [budget] {key} in config.toml (or remove it for no limit){wait}."
)]
pub struct BudgetExceeded {
    /// `daily` or `session`.
    pub scope: &'static str,
    /// The config key: `daily_usd` or `session_usd`.
    pub key: &'static str,
    pub limit_usd: f64,
    pub spent_usd: f64,
    pub estimate_usd: f64,
    spent_where: &'static str,
    wait: &'static str,
}

impl Budget {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.daily_usd.is_some() || self.session_usd.is_some()
    }

    /// Checks a call estimated at `input_tokens` against both limits (the session's
    /// first). `Ok(None)` lets the call go ahead.
    pub async fn check(
        &self,
        store: &AsyncStore,
        session_id: &str,
        profile: &ModelProfile,
        input_tokens: u64,
    ) -> Result<Option<BudgetExceeded>, StoreError> {
        if !self.is_set() {
            return Ok(None);
        }
        let estimate_usd = profile.input_cost_usd(input_tokens);
        if let Some(limit_usd) = self.session_usd {
            // A sub-agent's spending counts toward its parent's, and the parent's
            // toward its children's: the session budget covers the whole family.
            let spent_usd = store.family_cost_usd(session_id).await?;
            if spent_usd + estimate_usd > limit_usd {
                return Ok(Some(BudgetExceeded {
                    scope: "session",
                    key: "session_usd",
                    limit_usd,
                    spent_usd,
                    estimate_usd,
                    spent_where: "in this session",
                    wait: ", or start a new session",
                }));
            }
        }
        if let Some(limit_usd) = self.daily_usd {
            let spent_usd = store.today_cost_usd().await?;
            if spent_usd + estimate_usd > limit_usd {
                return Ok(Some(BudgetExceeded {
                    scope: "daily",
                    key: "daily_usd",
                    limit_usd,
                    spent_usd,
                    estimate_usd,
                    spent_where: "today (UTC)",
                    wait: ", or wait for the next UTC day",
                }));
            }
        }
        Ok(None)
    }
}
