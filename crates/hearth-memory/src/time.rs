//! Timestamps without a date crate: parse RFC 3339 and LoCoMo's "1:56 pm on 8 May, 2023",
//! format RFC 3339 (UTC), find the month or year a query names, and tell a question
//! about when from a text that says when.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::text::words;

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2023-05-08T13:56:00Z`.
pub fn format_rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Seconds since the epoch of an RFC 3339 timestamp or a LoCoMo date string; `None`
/// when it is neither.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    parse_rfc3339(text).or_else(|| parse_locomo(text))
}

fn number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn valid_date(year: i64, month: i64, day: i64) -> Option<(i64, u32, u32)> {
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some((
        year,
        month as u32,
        day as u32,
    ))
}

/// `YYYY-MM-DD`, optionally `THH:MM[:SS[.frac]]` and `Z` or `±HH:MM`.
fn parse_rfc3339(text: &str) -> Option<i64> {
    let date = text.get(..10)?;
    let (y, m, d) = valid_date(
        number(date.get(0..4)?)?,
        number(date.get(5..7)?)?,
        number(date.get(8..10)?)?,
    )?;
    if date.as_bytes().get(4) != Some(&b'-') || date.as_bytes().get(7) != Some(&b'-') {
        return None;
    }
    let mut unix = days_from_civil(y, m, d) * 86_400;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(unix);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let hour = number(rest.get(0..2)?)?;
    let minute = number(rest.get(3..5)?)?;
    let mut tail = rest.get(5..)?;
    let mut second = 0;
    if let Some(after) = tail.strip_prefix(':') {
        second = number(after.get(0..2)?)?;
        tail = after.get(2..)?;
        if let Some(frac) = tail.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            tail = &frac[digits..];
        }
    }
    unix += hour * 3600 + minute * 60 + second;
    match tail {
        "" | "Z" | "z" => Some(unix),
        offset => {
            let sign = match offset.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh = number(offset.get(1..3)?)?;
            let om = number(offset.get(4..6)?)?;
            Some(unix - sign * (oh * 3600 + om * 60))
        }
    }
}

/// LoCoMo's `1:56 pm on 8 May, 2023` (time part optional).
fn parse_locomo(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let (clock, date) = match lower.split_once(" on ") {
        Some((clock, date)) => (Some(clock.trim()), date.trim()),
        None => (None, lower.trim()),
    };
    let parts: Vec<&str> = date
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    let [day, month, year] = parts.as_slice() else {
        return None;
    };
    let month = MONTHS
        .iter()
        .position(|m| m.starts_with(month) && month.len() >= 3)? as i64
        + 1;
    let (y, m, d) = valid_date(number(year)?, month, number(day)?)?;
    let mut unix = days_from_civil(y, m, d) * 86_400;
    if let Some(clock) = clock {
        let pm = clock.ends_with("pm");
        let am = clock.ends_with("am");
        let hm = clock.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == ' ');
        let (h, min) = hm.split_once(':')?;
        let mut hour = number(h.trim())? % 12;
        if pm {
            hour += 12;
        } else if !am {
            hour = number(h.trim())?;
        }
        unix += hour * 3600 + number(min.trim())? * 60;
    }
    Some(unix)
}

/// A stretch of time a query names: `[start, end)` in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeRange {
    pub start: i64,
    pub end: i64,
}

/// The month ("May 2023", "in may") or year ("2023") a query names, if any. A month
/// without a year takes the year of `reference` (the newest memory).
pub(crate) fn named_range(query: &str, reference: Option<i64>) -> Option<TimeRange> {
    let words: Vec<String> = words(query).collect();
    let year = words.iter().find_map(|w| year(w));
    let month = (0..words.len()).find_map(|i| month_at(&words, i));
    let reference_year = reference.map(|r| civil_from_days(r.div_euclid(86_400)).0);
    match (month, year.or(reference_year)) {
        (Some(m), Some(y)) => {
            let start = days_from_civil(y, m, 1) * 86_400;
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Some(TimeRange {
                start,
                end: days_from_civil(ny, nm, 1) * 86_400,
            })
        }
        (None, Some(y)) if year.is_some() => Some(TimeRange {
            start: days_from_civil(y, 1, 1) * 86_400,
            end: days_from_civil(y + 1, 1, 1) * 86_400,
        }),
        _ => None,
    }
}

/// Words that place an event in time: relative days and periods, weekdays, seasons
/// (not "fall", more often a verb). Months and years are recognised separately.
const TIME_WORDS: [&str; 32] = [
    "yesterday",
    "today",
    "tonight",
    "tomorrow",
    "ago",
    "last",
    "next",
    "since",
    "recently",
    "lately",
    "earlier",
    "week",
    "weeks",
    "weekend",
    "weekends",
    "month",
    "months",
    "year",
    "years",
    "days",
    "night",
    "morning",
    "afternoon",
    "evening",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "summer",
];
const SEASONS: [&str; 3] = ["winter", "spring", "autumn"];

/// Whether a query asks when something happened or how long it took: "when did…",
/// "how long…", "what year…". The turns that answer it usually say when.
pub(crate) fn asks_when(query: &str) -> bool {
    let words: Vec<String> = words(query).collect();
    words.iter().enumerate().any(|(i, w)| {
        let next = words.get(i + 1).map(String::as_str);
        w == "when"
            || (w == "how" && next == Some("long"))
            || (matches!(w.as_str(), "what" | "which")
                && matches!(next, Some("year" | "month" | "date" | "day" | "week")))
    })
}

/// Whether a text places something in time: a relative day or period ("yesterday",
/// "last week", "two years ago"), a weekday, a season, a month or a year.
pub(crate) fn mentions_time(text: &str) -> bool {
    let words: Vec<String> = words(text).collect();
    words.iter().enumerate().any(|(i, w)| {
        TIME_WORDS.contains(&w.as_str())
            || SEASONS.contains(&w.as_str())
            || year(w).is_some()
            || month_at(&words, i).is_some()
    })
}

/// A word that reads as a year.
fn year(word: &str) -> Option<i64> {
    number(word).filter(|y| (1900..=2200).contains(y))
}

/// The month (1–12) that `words[i]` names. "may" is too often a verb to count
/// without a year or a day beside it.
fn month_at(words: &[String], i: usize) -> Option<u32> {
    let index = MONTHS.iter().position(|m| *m == words[i])?;
    let near_number = || {
        [i.checked_sub(1), Some(i + 1)]
            .into_iter()
            .flatten()
            .any(|j| words.get(j).is_some_and(|n| number(n).is_some()))
    };
    (index != 4 || near_number()).then_some(index as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-1000, 0, 1, 19_485, 60_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(2023, 5, 8), 19_485);
    }

    #[test]
    fn parses_both_formats() {
        let locomo = parse_timestamp("1:56 pm on 8 May, 2023").unwrap();
        assert_eq!(format_rfc3339(locomo), "2023-05-08T13:56:00Z");
        assert_eq!(
            parse_timestamp("12:09 am on 13 September, 2023").map(format_rfc3339),
            Some("2023-09-13T00:09:00Z".into())
        );
        assert_eq!(parse_timestamp("2023-05-08T13:56:00Z"), Some(locomo));
        assert_eq!(parse_timestamp("2023-05-08T15:56:00+02:00"), Some(locomo));
        assert_eq!(parse_timestamp("2023-05-08T13:56:00.250Z"), Some(locomo));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2023-13-08"), None);
    }

    #[test]
    fn finds_named_months_and_years() {
        let r = named_range("What did she do in July 2023?", None).unwrap();
        assert_eq!(format_rfc3339(r.start), "2023-07-01T00:00:00Z");
        assert_eq!(format_rfc3339(r.end), "2023-08-01T00:00:00Z");
        let reference = parse_timestamp("2022-03-02");
        let r = named_range("plans for august", reference).unwrap();
        assert_eq!(format_rfc3339(r.start), "2022-08-01T00:00:00Z");
        assert!(named_range("may I ask what she likes", reference).is_none());
        let r = named_range("what happened in 2021", reference).unwrap();
        assert_eq!(format_rfc3339(r.end), "2022-01-01T00:00:00Z");
    }

    #[test]
    fn tells_when_questions_and_dated_texts() {
        assert!(asks_when("When did Caroline go to the adoption meeting?"));
        assert!(asks_when("How long has Nate had his turtles?"));
        assert!(asks_when("Which year did they move?"));
        assert!(!asks_when("What did Melanie paint?"));
        assert!(!asks_when("how are you"));
        assert!(mentions_time("I went to an adoption meeting last Friday."));
        assert!(mentions_time("We moved in 2019"));
        assert!(mentions_time("See you on 3 May"));
        assert!(!mentions_time("You may like it"));
        assert!(!mentions_time("I love painting sunsets"));
    }
}
