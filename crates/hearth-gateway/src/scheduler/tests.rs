//! The scheduler's planning against the calendar, driven by a clock that only moves
//! when told: DST gaps and folds, month ends, a leap day, and clocks that jump.

use hearth_store::{CatchUp, Job, JobOrigin, RunTrigger, ScheduleSpec};
use jiff::Timestamp;

use super::clock::{store_time, Clock, ManualClock};
use super::plan::{Action, Planner};

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn job(id: i64, schedule: ScheduleSpec, created_at: &str, catch_up: CatchUp) -> Job {
    Job {
        id,
        name: format!("job{id}"),
        schedule,
        prompt: "p".into(),
        session_name: None,
        deliver: None,
        catch_up,
        origin: JobOrigin::Cli,
        enabled: true,
        cursor: None,
        run_requested: None,
        created_at: created_at.into(),
    }
}

fn cron(id: i64, expr: &str, zone: &str, created_at: &str) -> Job {
    let spec = ScheduleSpec::Cron {
        expr: expr.into(),
        zone: Some(zone.into()),
    };
    job(id, spec, created_at, CatchUp::Once)
}

/// Runs the planner the way the scheduler's loop does, on `clock`: sleep until the
/// next wake-up (the clock is moved there), take what is due; until `until`.
fn fire_until(planner: &mut Planner, clock: &ManualClock, until: Timestamp) -> Vec<Action> {
    let mut fired = Vec::new();
    while let Some(wake) = planner.next_wake().filter(|wake| *wake <= until) {
        clock.set(wake);
        fired.extend(planner.due(clock.now()));
    }
    clock.set(until);
    fired.extend(planner.due(clock.now()));
    fired
}

fn dues(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|action| action.due.to_string())
        .collect()
}

#[test]
fn a_daily_job_in_the_spring_forward_gap_runs_once_after_the_gap() {
    // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    let start = ts("2026-03-07T12:00:00Z");
    let clock = ManualClock::new(start);
    let mut planner = Planner::new(
        vec![cron(
            1,
            "30 2 * * *",
            "America/New_York",
            "2026-03-07T12:00:00.000Z",
        )],
        false,
    );
    let fired = fire_until(&mut planner, &clock, ts("2026-03-10T12:00:00Z"));
    assert_eq!(
        dues(&fired),
        [
            "2026-03-08T07:30:00Z", // 02:30 EST would be 07:30Z; runs at 03:30 EDT
            "2026-03-09T06:30:00Z", // 02:30 EDT
            "2026-03-10T06:30:00Z",
        ]
    );
    assert!(fired
        .iter()
        .all(|a| a.trigger == RunTrigger::Schedule && !a.skip));
}

#[test]
fn a_daily_job_in_the_fall_back_fold_runs_once_at_the_first_occurrence() {
    // New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    let clock = ManualClock::new(ts("2026-10-31T12:00:00Z"));
    let mut planner = Planner::new(
        vec![cron(
            1,
            "30 1 * * *",
            "America/New_York",
            "2026-10-31T12:00:00.000Z",
        )],
        false,
    );
    let fired = fire_until(&mut planner, &clock, ts("2026-11-02T12:00:00Z"));
    assert_eq!(
        dues(&fired),
        ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
        "01:30 EDT once (not again at 01:30 EST = 06:30Z)"
    );
}

#[test]
fn berlin_gap_and_fold_days() {
    // Berlin 2026: 29 March 02:00 → 03:00; 25 October 03:00 → 02:00.
    let clock = ManualClock::new(ts("2026-03-28T00:00:00Z"));
    let mut planner = Planner::new(
        vec![cron(
            1,
            "30 2 * * *",
            "Europe/Berlin",
            "2026-03-28T00:00:00.000Z",
        )],
        false,
    );
    let fired = fire_until(&mut planner, &clock, ts("2026-03-30T12:00:00Z"));
    assert_eq!(
        dues(&fired),
        [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:30:00Z", // 02:30 does not exist: 03:30 CEST
            "2026-03-30T00:30:00Z",
        ]
    );
    let clock = ManualClock::new(ts("2026-10-24T12:00:00Z"));
    let mut planner = Planner::new(
        vec![cron(
            1,
            "30 2 * * *",
            "Europe/Berlin",
            "2026-10-24T12:00:00.000Z",
        )],
        false,
    );
    let fired = fire_until(&mut planner, &clock, ts("2026-10-26T12:00:00Z"));
    assert_eq!(
        dues(&fired),
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
        "02:30 CEST once, not again at 02:30 CET"
    );
}

#[test]
fn month_ends_and_the_leap_day() {
    let clock = ManualClock::new(ts("2028-01-01T00:00:00Z"));
    let mut planner = Planner::new(
        vec![
            cron(1, "0 9 31 * *", "UTC", "2028-01-01T00:00:00.000Z"),
            cron(2, "0 9 29 2 *", "UTC", "2028-01-01T00:00:00.000Z"),
            cron(3, "0 9 1 * *", "UTC", "2028-01-01T00:00:00.000Z"),
        ],
        false,
    );
    let fired = fire_until(&mut planner, &clock, ts("2028-06-01T00:00:00Z"));
    let by_job = |id| {
        fired
            .iter()
            .filter(|a| a.job_id == id)
            .map(|a| a.due.to_string())
            .collect::<Vec<_>>()
    };
    // The 31st exists in Jan, Mar, May only.
    assert_eq!(
        by_job(1),
        [
            "2028-01-31T09:00:00Z",
            "2028-03-31T09:00:00Z",
            "2028-05-31T09:00:00Z"
        ]
    );
    assert_eq!(by_job(2), ["2028-02-29T09:00:00Z"]);
    assert_eq!(by_job(3).len(), 5, "{:?}", by_job(3));
    assert_eq!(by_job(3)[1], "2028-02-01T09:00:00Z");
}

#[test]
fn a_clock_that_jumps_back_runs_nothing_twice() {
    let clock = ManualClock::new(ts("2026-12-05T07:00:00Z"));
    let mut planner = Planner::new(
        vec![cron(1, "0 8 * * *", "UTC", "2026-12-05T07:00:00.000Z")],
        false,
    );
    let fired = fire_until(&mut planner, &clock, ts("2026-12-05T08:00:00Z"));
    assert_eq!(dues(&fired), ["2026-12-05T08:00:00Z"]);
    // Back an hour: 08:00 comes again on the wall clock, but it has run.
    clock.set(ts("2026-12-05T07:05:00Z"));
    assert!(planner.due(clock.now()).is_empty());
    let fired = fire_until(&mut planner, &clock, ts("2026-12-05T09:00:00Z"));
    assert!(fired.is_empty(), "{fired:?}");
    assert_eq!(planner.next_wake(), Some(ts("2026-12-06T08:00:00Z")));
}

#[test]
fn a_clock_that_jumps_forward_catches_up_once_or_skips() {
    let every = |id, catch_up| {
        job(
            id,
            ScheduleSpec::Every {
                duration: "1h".into(),
                anchor: "2026-12-05T00:00:00.000Z".into(),
            },
            "2026-12-05T00:00:00.000Z",
            catch_up,
        )
    };
    let clock = ManualClock::new(ts("2026-12-05T00:30:00Z"));
    let mut planner = Planner::new(
        vec![every(1, CatchUp::Once), every(2, CatchUp::Skip)],
        false,
    );
    clock.set(ts("2026-12-05T01:00:00Z"));
    let on_time = planner.due(clock.now());
    assert_eq!(on_time.len(), 2);
    assert!(on_time
        .iter()
        .all(|a| a.trigger == RunTrigger::Schedule && !a.skip));
    // Suspended or jumped 5 h 10 min ahead: 5 due times passed; only the latest counts.
    clock.set(ts("2026-12-05T06:10:00Z"));
    let late = planner.due(clock.now());
    assert_eq!(
        late,
        [
            Action {
                job_id: 1,
                due: ts("2026-12-05T06:00:00Z"),
                trigger: RunTrigger::CatchUp,
                skip: false
            },
            Action {
                job_id: 2,
                due: ts("2026-12-05T06:00:00Z"),
                trigger: RunTrigger::CatchUp,
                skip: true
            },
        ]
    );
    assert_eq!(planner.next_wake(), Some(ts("2026-12-05T07:00:00Z")));
}

#[test]
fn on_start_a_missed_time_follows_catch_up_and_a_stored_cursor_is_respected() {
    let mut at = job(
        1,
        ScheduleSpec::At {
            time: "2026-12-05T08:00:00.000Z".into(),
        },
        "2026-12-05T07:00:00.000Z",
        CatchUp::Once,
    );
    let mut planner = Planner::new(vec![at.clone()], true);
    let fired = planner.due(ts("2026-12-05T09:00:00Z"));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].trigger, RunTrigger::CatchUp);
    assert_eq!(planner.next_wake(), None, "a one-off time runs once");

    // Claimed before a restart: the stored cursor says so, nothing runs again.
    at.cursor = Some(store_time(ts("2026-12-05T08:00:00Z")));
    let mut planner = Planner::new(vec![at], true);
    assert!(planner.due(ts("2026-12-05T09:00:00Z")).is_empty());
    assert_eq!(planner.next_wake(), None);
}

#[test]
fn a_frequent_job_down_for_long_catches_up_once_without_scanning_forever() {
    let every = job(
        1,
        ScheduleSpec::Every {
            duration: "1s".into(),
            anchor: "2026-01-01T00:00:00.000Z".into(),
        },
        "2026-01-01T00:00:00.000Z",
        CatchUp::Once,
    );
    let mut planner = Planner::new(vec![every], true);
    let fired = planner.due(ts("2026-03-01T00:00:00.500Z"));
    assert_eq!(dues(&fired), ["2026-03-01T00:00:00Z"]);
    assert_eq!(planner.next_wake(), Some(ts("2026-03-01T00:00:01Z")));
}

#[test]
fn paused_jobs_are_not_planned_and_store_times_sort_as_text() {
    let mut paused = cron(1, "* * * * *", "UTC", "2026-12-05T00:00:00.000Z");
    paused.enabled = false;
    let planner = Planner::new(vec![paused], false);
    assert!(planner.is_empty());
    assert_eq!(planner.next_wake(), None);
    assert_eq!(
        store_time(ts("2026-12-05T08:00:00Z")),
        "2026-12-05T08:00:00.000Z"
    );
    assert_eq!(
        store_time(ts("2026-12-05T08:00:00.5Z")),
        "2026-12-05T08:00:00.500Z"
    );
}
