//! The `[now: …]` line the loop appends to each user message: the local date, time,
//! zone and weekday (`[now: 2026-12-05 09:12 Europe/Berlin, Saturday]`), so the model
//! can schedule ("tomorrow at 9") without the time entering the stable prefix.

use hearth_agent::NowLine;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The line for `at` in `zone`.
pub fn now_line(at: Timestamp, zone: &TimeZone) -> String {
    let local = at.to_zoned_datetime(zone.clone());
    let name = zone
        .iana_name()
        .map(str::to_string)
        .unwrap_or_else(|| local.strftime("%Z").to_string());
    format!(
        "[now: {} {name}, {}]",
        local.strftime("%Y-%m-%d %H:%M"),
        local.strftime("%A")
    )
}

/// The system clock in the system's zone.
pub fn system_now_line() -> NowLine {
    let zone = TimeZone::system();
    NowLine::new(move || now_line(Timestamp::now(), &zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_date_time_zone_and_weekday() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let at: Timestamp = "2026-12-05T08:12:59Z".parse().unwrap();
        assert_eq!(
            now_line(at, &zone),
            "[now: 2026-12-05 09:12 Europe/Berlin, Saturday]"
        );
    }
}
