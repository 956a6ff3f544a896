//! `--every` durations: `30s`, `5m`, `2h`, `1d`, or several parts (`1h30m`).

use jiff::SignedDuration;

use crate::ScheduleError;

/// Seconds per unit, longest first (the order [`format`] writes them in).
const UNITS: [(char, i64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Parses `text` as one or more `<number><unit>` parts, units s, m, h, d.
pub fn parse_duration(text: &str) -> Result<SignedDuration, ScheduleError> {
    let bad = || ScheduleError::BadDuration(text.to_string());
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    let mut seconds: i64 = 0;
    let mut number = String::new();
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = UNITS
            .iter()
            .find(|(name, _)| *name == c.to_ascii_lowercase())
            .ok_or_else(bad)?
            .1;
        let count: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        seconds = count
            .checked_mul(unit)
            .and_then(|part| seconds.checked_add(part))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    if seconds == 0 {
        return Err(ScheduleError::ZeroDuration(text.to_string()));
    }
    Ok(SignedDuration::from_secs(seconds))
}

/// The duration as [`parse_duration`] reads it (`1h30m`).
pub(crate) fn format(duration: SignedDuration) -> String {
    let mut left = duration.as_secs();
    let mut out = String::new();
    for (unit, size) in UNITS {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}
