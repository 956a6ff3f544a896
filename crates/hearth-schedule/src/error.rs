//! What can be wrong with a schedule as a person wrote it.

/// A schedule that cannot be read, worded to say what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("'{0}' is not a duration; write a number and a unit: 30s, 5m, 2h, 1d (or 1h30m)")]
    BadDuration(String),
    #[error("the duration '{0}' is zero; give one of at least a second")]
    ZeroDuration(String),
    #[error("cron expression '{expr}': {why}; five fields: minute hour day-of-month month day-of-week, e.g. '0 8 * * 1-5'")]
    BadCron { expr: String, why: String },
    #[error("unknown time zone '{name}' ({cause}); use an IANA name such as Europe/Berlin or America/New_York")]
    UnknownZone { name: String, cause: String },
    #[error("'{text}' is not a time ({cause}); write RFC 3339 (2026-12-06T08:00:00+01:00) or +DURATION (+10m)")]
    BadTime { text: String, cause: String },
    #[error("'{0}' is too far away to schedule")]
    OutOfRange(String),
}
