//! Five-field cron expressions (minute hour day-of-month month day-of-week), as Vixie
//! cron reads them: `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists, month
//! and weekday names, 7 for Sunday, the `@daily`-style shorthands, and the rule that
//! when both day fields are restricted a day matching either runs.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::ScheduleError;

/// Years searched ahead before a cron date is taken never to come (31 February).
const SEARCH_YEARS: i16 = 8;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// A parsed cron expression: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    text: String,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    weekdays: u8,
    /// The day fields began with `*` (so only the other one restricts the day).
    any_day_of_month: bool,
    any_weekday: bool,
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for CronExpr {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, ScheduleError> {
        let bad = |why: String| ScheduleError::BadCron {
            expr: text.to_string(),
            why,
        };
        let expanded = match text.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(bad(format!(
                "unknown shorthand '{other}' (known: @yearly, @monthly, @weekly, @daily, @hourly)"
            )))
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(bad(format!("it has {} fields, not 5", fields.len())));
        };
        let field = |index: usize, name: &str, text: &str, min: u32, max: u32, names: &[&str]| {
            parse_field(text, min, max, names)
                .map_err(|why| bad(format!("field {index} ({name}) '{text}': {why}")))
        };
        let weekdays = field(5, "day of week", weekday, 0, 7, &WEEKDAYS)?;
        Ok(Self {
            text: expanded.to_string(),
            minutes: field(1, "minute", minute, 0, 59, &[])?,
            hours: field(2, "hour", hour, 0, 23, &[])? as u32,
            days_of_month: field(3, "day of month", day, 1, 31, &[])? as u32,
            months: (field(4, "month", month, 1, 12, &MONTHS)? >> 1) as u16,
            // 7 is Sunday too.
            weekdays: ((weekdays | (weekdays >> 7)) & 0x7f) as u8,
            any_day_of_month: day.starts_with('*'),
            any_weekday: weekday.starts_with('*'),
        })
    }
}

/// The bits of `text`'s values in `min..=max`. `names` (lower-case) stand for values
/// from `min` on.
fn parse_field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |part: &str| -> Result<u32, String> {
        let lower = part.to_ascii_lowercase();
        if let Some(index) = names.iter().position(|name| *name == lower) {
            return Ok(min + index as u32);
        }
        let number: u32 = part.parse().map_err(|_| {
            format!(
                "'{part}' is not a number{}",
                if names.is_empty() { "" } else { " or a name" }
            )
        })?;
        if number < min || number > max {
            return Err(format!("{number} is out of range {min}–{max}"));
        }
        Ok(number)
    };
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("step '{step}' is not a number"))?;
                if step == 0 {
                    return Err("a step of 0".into());
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (first, last) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("the range {a}-{b} runs backwards"));
            }
            (a, b)
        } else {
            let single = value(range)?;
            // `5/15` means from 5 to the end in steps of 15.
            (single, if step > 1 { max } else { single })
        };
        let mut at = first;
        while at <= last {
            bits |= 1 << at;
            at += step;
        }
    }
    Ok(bits)
}

impl CronExpr {
    fn day_matches(&self, date: Date) -> bool {
        let dom = self.days_of_month & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        match (self.any_day_of_month, self.any_weekday) {
            (false, false) => dom || dow,
            (false, true) => dom,
            (true, false) => dow,
            (true, true) => true,
        }
    }

    /// The first time after `after` whose local time in `zone` matches.
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned_datetime(zone.clone()).datetime();
        let mut t = minute_floor(start)
            .checked_add(jiff::Span::new().minutes(1))
            .ok()?;
        let last_year = start.year().saturating_add(SEARCH_YEARS);
        while t.year() <= last_year {
            let date = t.date();
            if self.months & (1 << (t.month() - 1)) == 0 {
                t = date
                    .last_of_month()
                    .tomorrow()
                    .ok()?
                    .to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if !self.day_matches(date) {
                t = date
                    .tomorrow()
                    .ok()?
                    .to_datetime(jiff::civil::Time::midnight());
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = hour_floor(t).checked_add(jiff::Span::new().hours(1)).ok()?;
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                t = t.checked_add(jiff::Span::new().minutes(1)).ok()?;
                continue;
            }
            // A gap's local time shifts forward by the gap; a fold's is its first
            // occurrence (`compatible`, as POSIX mktime). A candidate at or before
            // `after` is the fold's second pass of a time already run: skip it.
            let due = zone.to_ambiguous_timestamp(t).compatible().ok()?;
            if due > after {
                return Some(due);
            }
            t = t.checked_add(jiff::Span::new().minutes(1)).ok()?;
        }
        None
    }
}

fn minute_floor(t: DateTime) -> DateTime {
    t.with().second(0).subsec_nanosecond(0).build().unwrap_or(t)
}

fn hour_floor(t: DateTime) -> DateTime {
    t.with()
        .minute(0)
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .unwrap_or(t)
}
