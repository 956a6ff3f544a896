//! When scheduled jobs are due. A [`Schedule`] is `--every DURATION` (from an anchor
//! time), a five-field cron expression in an IANA time zone, or one time (`--at`);
//! [`Schedule::next_after`] says when it is next due after an instant.
//!
//! Architecture invariant: pure computation. No clock is read here (callers pass
//! `now`), nothing is stored or run; the gateway's scheduler claims and runs due times.
//!
//! Daylight saving time, for cron in a zone that has it: a local time that does not
//! exist (the spring-forward gap) runs at the same offset after the gap (02:30 in a
//! 02:00→03:00 gap runs at 03:30), as POSIX `mktime` and `jiff` do; a local time that
//! occurs twice (the fall-back fold) runs once, at its first occurrence.

mod cron;
mod duration;
mod error;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

pub use cron::CronExpr;
pub use duration::parse_duration;
pub use error::ScheduleError;

/// When a job is due.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every `interval`, counted from `anchor` (when the job was added).
    Every {
        interval: SignedDuration,
        anchor: Timestamp,
    },
    /// A cron expression read in a time zone.
    Cron { expr: CronExpr, zone: TimeZone },
    /// Once.
    At(Timestamp),
}

impl Schedule {
    /// `--every DURATION` from `anchor`.
    pub fn every(text: &str, anchor: Timestamp) -> Result<Self, ScheduleError> {
        Ok(Self::Every {
            interval: parse_duration(text)?,
            anchor,
        })
    }

    /// `--cron EXPR` in the IANA zone `zone`, or the system's zone when `None`.
    pub fn cron(expr: &str, zone: Option<&str>) -> Result<Self, ScheduleError> {
        let expr: CronExpr = expr.parse()?;
        let zone = match zone {
            Some(name) => TimeZone::get(name).map_err(|cause| ScheduleError::UnknownZone {
                name: name.to_string(),
                cause: cause.to_string(),
            })?,
            None => TimeZone::system(),
        };
        Ok(Self::Cron { expr, zone })
    }

    /// `--at TIME`: RFC 3339 (`2026-12-06T08:00:00+01:00`) or `+DURATION` from `now`.
    pub fn at(text: &str, now: Timestamp) -> Result<Self, ScheduleError> {
        let text = text.trim();
        if let Some(relative) = text.strip_prefix('+') {
            let delay = parse_duration(relative)?;
            return now
                .checked_add(delay)
                .map(Self::At)
                .map_err(|_| ScheduleError::OutOfRange(text.to_string()));
        }
        text.parse::<Timestamp>()
            .map(Self::At)
            .map_err(|cause| ScheduleError::BadTime {
                text: text.to_string(),
                cause: cause.to_string(),
            })
    }

    /// The first due time strictly after `after`, or `None` when there is none (a
    /// one-off time already past; a cron date that never comes, like 31 February).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match self {
            Self::Every { interval, anchor } => every_next(*interval, *anchor, after),
            Self::Cron { expr, zone } => expr.next_after(after, zone),
            Self::At(at) => (*at > after).then_some(*at),
        }
    }

    /// The due times in `(after, until]`, oldest first, at most `limit` of them: what a
    /// scheduler that was down missed.
    pub fn due_between(&self, after: Timestamp, until: Timestamp, limit: usize) -> Vec<Timestamp> {
        let mut due = Vec::new();
        let mut cursor = after;
        while due.len() < limit {
            match self.next_after(cursor) {
                Some(next) if next <= until => {
                    due.push(next);
                    cursor = next;
                }
                _ => break,
            }
        }
        due
    }

    /// How the schedule reads in listings (`every 30m`, `cron 0 8 * * * Europe/Berlin`,
    /// `at 2026-12-06T07:00:00Z`).
    pub fn describe(&self) -> String {
        match self {
            Self::Every { interval, .. } => format!("every {}", duration::format(*interval)),
            Self::Cron { expr, zone } => {
                format!(
                    "cron {expr} {}",
                    zone.iana_name().unwrap_or("(system zone)")
                )
            }
            Self::At(at) => format!("at {at}"),
        }
    }
}

/// `anchor + k·interval` for the least k ≥ 1 that passes `after`.
fn every_next(interval: SignedDuration, anchor: Timestamp, after: Timestamp) -> Option<Timestamp> {
    let step = interval.as_nanos();
    if step <= 0 {
        return None;
    }
    let elapsed = after.as_nanosecond() - anchor.as_nanosecond();
    let periods = if elapsed < 0 { 1 } else { elapsed / step + 1 };
    let nanos = anchor
        .as_nanosecond()
        .checked_add(periods.checked_mul(step)?)?;
    Timestamp::from_nanosecond(nanos).ok()
}

#[cfg(test)]
mod tests;
