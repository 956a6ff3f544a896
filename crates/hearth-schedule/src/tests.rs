//! Schedules against the calendar: durations, cron fields, time zones and DST.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use proptest::prelude::*;

use crate::{parse_duration, CronExpr, Schedule, ScheduleError};

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn cron(expr: &str, zone: &str) -> Schedule {
    Schedule::cron(expr, Some(zone)).unwrap()
}

/// The next `n` due times after `from`, as RFC 3339 strings.
fn next_n(schedule: &Schedule, from: &str, n: usize) -> Vec<String> {
    schedule
        .due_between(ts(from), ts("2100-01-01T00:00:00Z"), n)
        .into_iter()
        .map(|t| t.to_string())
        .collect()
}

#[test]
fn durations_read_as_people_write_them() {
    assert_eq!(parse_duration("30s").unwrap().as_secs(), 30);
    assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
    assert_eq!(parse_duration("2h").unwrap().as_secs(), 7200);
    assert_eq!(parse_duration("1d").unwrap().as_secs(), 86_400);
    assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
    for bad in ["", "5", "m", "5x", "1.5h", "-5m", "99999999999999999999d"] {
        assert!(
            matches!(parse_duration(bad), Err(ScheduleError::BadDuration(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        parse_duration("0m"),
        Err(ScheduleError::ZeroDuration(_))
    ));
    let every = Schedule::every("1h30m", ts("2026-12-05T00:00:00Z")).unwrap();
    assert_eq!(every.describe(), "every 1h30m");
}

#[test]
fn every_counts_from_its_anchor_and_never_repeats_a_time() {
    let every = Schedule::every("30m", ts("2026-12-05T08:10:00Z")).unwrap();
    assert_eq!(
        next_n(&every, "2026-12-05T08:10:00Z", 3),
        [
            "2026-12-05T08:40:00Z",
            "2026-12-05T09:10:00Z",
            "2026-12-05T09:40:00Z"
        ]
    );
    // Asked exactly at a due time, the next one is the one after.
    assert_eq!(
        next_n(&every, "2026-12-05T09:10:00Z", 1),
        ["2026-12-05T09:40:00Z"]
    );
    // Before the anchor: the first period after it.
    assert_eq!(
        next_n(&every, "2026-12-01T00:00:00Z", 1),
        ["2026-12-05T08:40:00Z"]
    );
}

#[test]
fn at_takes_rfc3339_or_a_delay_and_runs_once() {
    let now = ts("2026-12-05T06:00:00Z");
    let at = Schedule::at("2026-12-06T08:00:00+01:00", now).unwrap();
    assert_eq!(
        next_n(&at, "2026-12-05T06:00:00Z", 5),
        ["2026-12-06T07:00:00Z"]
    );
    assert_eq!(at.next_after(ts("2026-12-06T07:00:00Z")), None);
    let soon = Schedule::at("+10m", now).unwrap();
    assert_eq!(soon.next_after(now), Some(ts("2026-12-05T06:10:00Z")));
    assert!(matches!(
        Schedule::at("tomorrow", now),
        Err(ScheduleError::BadTime { .. })
    ));
}

#[test]
fn a_morning_briefing_runs_at_eight_local_time_all_year() {
    let briefing = cron("0 8 * * *", "Europe/Berlin");
    // Winter (UTC+1), then summer (UTC+2) after the spring change on 29 March 2026.
    assert_eq!(
        next_n(&briefing, "2026-03-27T12:00:00Z", 4),
        [
            "2026-03-28T07:00:00Z",
            "2026-03-29T06:00:00Z",
            "2026-03-30T06:00:00Z",
            "2026-03-31T06:00:00Z"
        ]
    );
    assert_eq!(briefing.describe(), "cron 0 8 * * * Europe/Berlin");
}

#[test]
fn a_time_in_the_spring_gap_runs_once_after_it() {
    // 02:30 does not exist in Berlin on 29 March 2026 (02:00 → 03:00).
    let job = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        next_n(&job, "2026-03-28T12:00:00Z", 3),
        [
            "2026-03-29T01:30:00Z", // 03:30 CEST, the gap's offset applied
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z"
        ]
    );
}

#[test]
fn a_time_in_the_autumn_fold_runs_once() {
    // 02:30 happens twice in Berlin on 25 October 2026 (03:00 CEST → 02:00 CET).
    let job = cron("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        next_n(&job, "2026-10-24T12:00:00Z", 3),
        [
            "2026-10-25T00:30:00Z", // the first 02:30 (CEST)
            "2026-10-26T01:30:00Z",
            "2026-10-27T01:30:00Z"
        ]
    );
    // Asked during the second pass of the fold, it waits for the next day.
    assert_eq!(
        job.next_after(ts("2026-10-25T01:15:00Z")),
        Some(ts("2026-10-26T01:30:00Z"))
    );
}

#[test]
fn cron_fields_ranges_steps_lists_and_names() {
    let weekdays = cron("0 9 * * mon-fri", "UTC");
    // 5 December 2026 is a Saturday.
    assert_eq!(
        next_n(&weekdays, "2026-12-05T00:00:00Z", 2),
        ["2026-12-07T09:00:00Z", "2026-12-08T09:00:00Z"]
    );
    let quarter = cron("*/15 * * * *", "UTC");
    assert_eq!(
        next_n(&quarter, "2026-12-05T10:07:00Z", 3),
        [
            "2026-12-05T10:15:00Z",
            "2026-12-05T10:30:00Z",
            "2026-12-05T10:45:00Z"
        ]
    );
    let listed = cron("0 6,18 1 jan,jul *", "UTC");
    assert_eq!(
        next_n(&listed, "2026-12-05T00:00:00Z", 3),
        [
            "2027-01-01T06:00:00Z",
            "2027-01-01T18:00:00Z",
            "2027-07-01T06:00:00Z"
        ]
    );
    // Sunday as 7, and both day fields restricted: either one runs (Vixie cron).
    let either = cron("0 0 13 * 7", "UTC");
    assert_eq!(
        next_n(&either, "2026-12-05T00:00:00Z", 2),
        ["2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z"]
    );
    assert_eq!(
        next_n(&cron("@daily", "UTC"), "2026-12-05T10:00:00Z", 1),
        ["2026-12-06T00:00:00Z"]
    );
    assert_eq!(
        cron("0 0 31 2 *", "UTC").next_after(ts("2026-01-01T00:00:00Z")),
        None
    );
}

#[test]
fn bad_cron_expressions_say_which_field_and_why() {
    for (expr, says) in [
        ("0 8 * *", "4 fields"),
        (
            "60 8 * * *",
            "field 1 (minute) '60': 60 is out of range 0–59",
        ),
        ("0 24 * * *", "field 2 (hour)"),
        ("0 8 0 * *", "field 3 (day of month)"),
        ("0 8 * 13 *", "field 4 (month)"),
        ("0 8 * * funday", "'funday' is not a number or a name"),
        ("*/0 * * * *", "a step of 0"),
        ("0 10-8 * * *", "runs backwards"),
        ("@fortnightly", "unknown shorthand"),
    ] {
        let error = expr.parse::<CronExpr>().unwrap_err().to_string();
        assert!(error.contains(says), "{expr}: {error}");
    }
    let zone = Schedule::cron("0 8 * * *", Some("Mars/Olympus")).unwrap_err();
    assert!(zone.to_string().contains("IANA"), "{zone}");
}

#[test]
fn the_system_zone_is_the_default() {
    let job = Schedule::cron("0 8 * * *", None).unwrap();
    let Schedule::Cron { zone, .. } = &job else {
        unreachable!()
    };
    assert_eq!(zone, &TimeZone::system());
}

proptest! {
    /// Due times strictly increase and each is a time the expression names, in any
    /// zone, across any DST change.
    #[test]
    fn due_times_increase_and_match(
        minute in 0u8..60,
        hour in 0u8..24,
        zone in prop_oneof![Just("Europe/Berlin"), Just("America/New_York"), Just("Australia/Lord_Howe"), Just("UTC")],
        start in 1_700_000_000i64..1_900_000_000,
    ) {
        let job = cron(&format!("{minute} {hour} * * *"), zone);
        let due = job.due_between(Timestamp::from_second(start).unwrap(), Timestamp::MAX, 40);
        prop_assert_eq!(due.len(), 40);
        for pair in due.windows(2) {
            prop_assert!(pair[0] < pair[1]);
            let gap = pair[1].as_second() - pair[0].as_second();
            // Once a day: 23 to 25 hours apart (30-minute DST at Lord Howe included).
            prop_assert!((82_800..=90_000).contains(&gap), "{gap}");
        }
        let tz = TimeZone::get(zone).unwrap();
        for t in &due {
            let local = t.to_zoned_datetime(tz.clone());
            let named = (local.hour(), local.minute()) == (hour as i8, minute as i8);
            // Otherwise the named time fell in a DST gap that day, and the due time is
            // within the gap's length (at most an hour) after it.
            let civil = local.datetime().with().hour(hour as i8).minute(minute as i8).build().unwrap();
            let gap = matches!(
                tz.to_ambiguous_timestamp(civil).offset(),
                jiff::tz::AmbiguousOffset::Gap { .. }
            );
            prop_assert!(named || gap, "{local} for {hour}:{minute} in {zone}");
        }
    }
}
