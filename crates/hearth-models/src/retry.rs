//! How long to wait before the next attempt: exponential backoff with jitter, or what
//! the server asked for in `retry-after` / `retry-after-ms`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// Backoff never waits longer than this between two attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A server's `retry-after` is honoured up to this long.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The delay before retry number `retry_number` (1 for the first retry):
/// `base * 2^(n-1)`, capped at [`MAX_BACKOFF`], then scaled into `[50%, 100%]` by
/// `jitter` (a number in `[0, 1]`) so that many clients do not retry in lockstep.
pub(crate) fn backoff_delay(base: Duration, retry_number: u32, jitter: f64) -> Duration {
    let doublings = retry_number.saturating_sub(1).min(31);
    let exponential = base.saturating_mul(1u32 << doublings).min(MAX_BACKOFF);
    exponential.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// A number in `[0, 1]` that differs between calls, without a dependency on a random
/// number crate: std's `RandomState` is seeded randomly per process and per instance.
pub(crate) fn jitter_fraction() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.subsec_nanos())
        .unwrap_or(0);
    hasher.write_u32(nanos);
    (hasher.finish() % 10_001) as f64 / 10_000.0
}

/// The wait the server asked for: `retry-after-ms` (milliseconds, as OpenAI sends)
/// wins over `retry-after` (seconds or an HTTP date). Not capped here.
pub(crate) fn retry_after_from_headers(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header_text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(millis) = header_text("retry-after-ms").and_then(parse_non_negative_number) {
        return Some(Duration::from_secs_f64(millis / 1000.0));
    }
    let value = header_text("retry-after")?.trim();
    if let Some(seconds) = parse_non_negative_number(value) {
        return Some(Duration::from_secs_f64(seconds));
    }
    let date = parse_http_date(value)?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

fn parse_non_negative_number(text: &str) -> Option<f64> {
    let number: f64 = text.trim().parse().ok()?;
    (0.0..1e9).contains(&number).then_some(number)
}

/// Parses an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`, the only HTTP date
/// format servers are supposed to send.
pub(crate) fn parse_http_date(text: &str) -> Option<SystemTime> {
    let (_weekday, rest) = text.trim().split_once(", ")?;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u32 = day.parse().ok()?;
    let month = MONTHS.iter().position(|name| name == month)? as u32 + 1;
    let year: i64 = year.parse().ok()?;
    let clock: Vec<u64> = time
        .split(':')
        .map(|part| part.parse().ok())
        .collect::<Option<_>>()?;
    let [hours, minutes, seconds] = clock.as_slice() else {
        return None;
    };
    if !(1970..=9999).contains(&year)
        || !(1..=31).contains(&day)
        || *hours > 23
        || *minutes > 59
        || *seconds > 60
    {
        return None;
    }
    let days = days_since_unix_epoch(year, month, day);
    let total = days * 86_400 + (*hours * 3600 + *minutes * 60 + *seconds) as i64;
    let total = u64::try_from(total).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(total))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
fn days_since_unix_epoch(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month as i64 + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_caps_and_jitters_down_to_half() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff_delay(base, 1, 1.0), Duration::from_millis(500));
        assert_eq!(backoff_delay(base, 2, 1.0), Duration::from_millis(1000));
        assert_eq!(backoff_delay(base, 4, 1.0), Duration::from_millis(4000));
        assert_eq!(backoff_delay(base, 4, 0.0), Duration::from_millis(2000));
        assert_eq!(backoff_delay(base, 10, 1.0), MAX_BACKOFF);
        assert_eq!(backoff_delay(base, u32::MAX, 1.0), MAX_BACKOFF);
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let jitter = jitter_fraction();
            assert!((0.0..=1.0).contains(&jitter));
        }
    }

    #[test]
    fn http_dates_parse_to_unix_time() {
        let date = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            date.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            784_111_777
        );
        let leap = parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT").unwrap();
        assert_eq!(
            leap.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_709_164_800
        );
        for bad in [
            "",
            "yesterday",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 99999999999999 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        type HeaderPairs = &'static [(&'static str, &'static str)];
        let cases: &[(HeaderPairs, Option<Duration>)] = &[
            (&[("retry-after", "7")], Some(Duration::from_secs(7))),
            (&[("retry-after", "1.5")], Some(Duration::from_millis(1500))),
            (
                &[("retry-after-ms", "250")],
                Some(Duration::from_millis(250)),
            ),
            (
                &[("retry-after", "9"), ("retry-after-ms", "120")],
                Some(Duration::from_millis(120)),
            ),
            (
                &[("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT")],
                Some(Duration::from_secs(10)),
            ),
            (
                &[("retry-after", "Sun, 06 Nov 1994 08:40:00 GMT")],
                Some(Duration::ZERO),
            ),
            (&[("retry-after", "soon")], None),
            (&[("retry-after", "-3")], None),
            (&[], None),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                retry_after_from_headers(&headers(pairs), now),
                *expected,
                "{pairs:?}"
            );
        }
    }
}
