//! The `when` of `schedule_create`: the CLI's schedule forms in one string.
//!
//! ```text
//! when := "every " DURATION      every 30m, every 1h30m, every 1d (from now on)
//!       | "+" DURATION           once, that long from now: +2h, +1d
//!       | "cron " EXPR           five fields or @daily, read in the user's zone
//!       | RFC 3339 time          once: 2026-12-06T09:00:00+01:00
//!       | local date-time        once, in the user's zone: 2026-12-06T09:00 or 2026-12-06 09:00
//! ```
//! DURATION is `hearth-schedule`'s (`30s`, `5m`, `2h`, `1d`, `1h30m`).

use hearth_schedule::{parse_duration, Schedule};
use hearth_store::ScheduleSpec;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A parsed `when`: what to store and how it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub spec: ScheduleSpec,
    /// The first due time after `now`.
    pub next: Option<Timestamp>,
}

/// Reads `text` at `now` in `zone` (the user's); errors are worded for the model.
pub fn parse_when(text: &str, now: Timestamp, zone: &TimeZone) -> Result<When, String> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let spec = if let Some(duration) = lower.strip_prefix("every ") {
        parse_duration(duration).map_err(|err| err.to_string())?;
        let anchor = Timestamp::from_second(now.as_second()).unwrap_or(now);
        ScheduleSpec::Every {
            duration: duration.trim().to_string(),
            anchor: store_time(anchor),
        }
    } else if let Some(expr) = text
        .strip_prefix("cron ")
        .or_else(|| text.strip_prefix("CRON "))
    {
        let zone_name = zone.iana_name().map(str::to_string);
        Schedule::cron(expr, zone_name.as_deref()).map_err(|err| err.to_string())?;
        ScheduleSpec::Cron {
            expr: expr.trim().to_string(),
            zone: zone_name,
        }
    } else if text.starts_with('+') {
        once(Schedule::at(text, now).map_err(|err| err.to_string())?, now)?
    } else if text.starts_with(|c: char| c.is_ascii_digit()) {
        once(Schedule::At(absolute(text, zone)?), now)?
    } else {
        return Err(format!(
            "cannot read when '{text}'; use 'every 30m', '+2h', 'cron 0 8 * * 1-5', or a time \
             like 2026-12-06T09:00 (your zone) or 2026-12-06T09:00:00+01:00"
        ));
    };
    let next = schedule_of(&spec)?.next_after(now);
    Ok(When { spec, next })
}

/// An RFC 3339 time, or a local date-time (minutes or seconds) read in `zone`.
fn absolute(text: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant);
    }
    let civil = text
        .replacen(' ', "T", 1)
        .parse::<jiff::civil::DateTime>()
        .map_err(|err| format!("cannot read the time '{text}': {err}"))?;
    civil
        .to_zoned_datetime(zone.clone())
        .map(|zoned| zoned.timestamp())
        .map_err(|err| format!("cannot place '{text}' in the local zone: {err}"))
}

/// A one-off time, refused when it is not in the future.
fn once(schedule: Schedule, now: Timestamp) -> Result<ScheduleSpec, String> {
    match schedule {
        Schedule::At(time) if time > now => Ok(ScheduleSpec::At {
            time: store_time(time),
        }),
        Schedule::At(time) => Err(format!(
            "{time} is in the past (now is {now}); give a later time"
        )),
        _ => Err("not a one-off time".into()),
    }
}

/// The [`Schedule`] of a stored spec (what the gateway's scheduler computes too).
pub fn schedule_of(spec: &ScheduleSpec) -> Result<Schedule, String> {
    let schedule = match spec {
        ScheduleSpec::Every { duration, anchor } => {
            let anchor = anchor
                .parse::<Timestamp>()
                .map_err(|err| format!("stored anchor '{anchor}': {err}"))?;
            Schedule::every(duration, anchor)
        }
        ScheduleSpec::Cron { expr, zone } => Schedule::cron(expr, zone.as_deref()),
        ScheduleSpec::At { time } => Schedule::at(time, Timestamp::UNIX_EPOCH),
    };
    schedule.map_err(|err| err.to_string())
}

/// A time as the store keeps it: UTC with milliseconds, so stored times sort as text.
pub fn store_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `at` in `zone` as people read it: `2026-12-06 09:00 CET`.
pub fn local_time(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned_datetime(zone.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    fn now() -> Timestamp {
        "2026-12-05T08:12:30Z".parse().unwrap()
    }

    #[test]
    fn every_relative_cron_and_times_parse() {
        let zone = berlin();
        let every = parse_when("every 30m", now(), &zone).unwrap();
        assert_eq!(
            every.spec,
            ScheduleSpec::Every {
                duration: "30m".into(),
                anchor: "2026-12-05T08:12:30.000Z".into()
            }
        );
        let plus = parse_when("+2h", now(), &zone).unwrap();
        assert_eq!(plus.next, Some("2026-12-05T10:12:30Z".parse().unwrap()));
        let cron = parse_when("cron 0 9 * * *", now(), &zone).unwrap();
        assert_eq!(cron.next, Some("2026-12-06T08:00:00Z".parse().unwrap()));
        let local = parse_when("2026-12-06T09:00", now(), &zone).unwrap();
        assert_eq!(local.next, Some("2026-12-06T08:00:00Z".parse().unwrap()));
        let spaced = parse_when("2026-12-06 09:00", now(), &zone).unwrap();
        assert_eq!(spaced.spec, local.spec);
        let rfc = parse_when("2026-12-06T09:00:00+01:00", now(), &zone).unwrap();
        assert_eq!(rfc.spec, local.spec);
    }

    #[test]
    fn nonsense_and_the_past_are_refused_with_the_forms() {
        let zone = berlin();
        let error = parse_when("tomorrow", now(), &zone).unwrap_err();
        assert!(error.contains("every 30m"), "{error}");
        let past = parse_when("2026-12-04T09:00", now(), &zone).unwrap_err();
        assert!(past.contains("in the past"), "{past}");
        assert!(parse_when("every 0m", now(), &zone).is_err());
        assert!(parse_when("cron 61 * * * *", now(), &zone).is_err());
    }
}
