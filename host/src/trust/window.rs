//! `notBefore` / `notAfter`: epoch milliseconds, `null`, or a date string.
//!
//! Haechi passes strings to `Date.parse`, whose non-ISO formats are
//! implementation-defined and whose zone-less date-times use the host's local
//! time zone. ward accepts only the ECMAScript date-time format with an
//! explicit `Z` or `±HH:mm` offset (or a bare date, which ECMAScript reads as
//! UTC), so a bound means the same instant on every host; anything else is
//! `manifest-invalid`.

use serde_json::Value;

use super::refusal::ManifestProblem;

/// The wall clock a window is checked against, as [`crate::trust::verify`]'s
/// `now_ms` wants it: Unix milliseconds. A clock before 1970 reads as 0, so
/// a window with a `notBefore` fails closed. The one reading of the wall
/// clock in ward; every room that needs "now" for a window calls this.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// Reads one window bound; `field` names it in the refusal.
pub fn bound(value: Option<&Value>, field: &'static str) -> Result<Option<f64>, ManifestProblem> {
    match value {
        None | Some(Value::Null) => Ok(None),
        // serde_json only holds finite numbers; parse_strict refused overflow.
        Some(Value::Number(n)) => n.as_f64().filter(|f| f.is_finite()).map(Some).ok_or(ManifestProblem::BadWindowBound(field)),
        Some(Value::String(s)) => parse_iso(s).map(Some).ok_or(ManifestProblem::BadWindowBound(field)),
        Some(_) => Err(ManifestProblem::BadWindowBound(field)),
    }
}

/// `YYYY[-MM[-DD]]` (UTC) or `YYYY-MM-DDTHH:mm[:ss[.fff…]]` followed by `Z`
/// or `±HH:mm`, as epoch milliseconds. Day 29–31 of a short month rolls over
/// into the next month, as V8 does.
pub fn parse_iso(s: &str) -> Option<f64> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let year = digits(parts.next()?, 4)?;
    let month = parts.next().map(|m| digits(m, 2)).unwrap_or(Some(1))?;
    let day = parts.next().map(|d| digits(d, 2)).unwrap_or(Some(1))?;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let mut ms = days.checked_mul(86_400_000)?;
    if let Some(time) = time {
        let (clock, offset_ms) = split_offset(time)?;
        ms = ms.checked_add(clock_ms(clock)?)?.checked_sub(offset_ms)?;
    }
    // Exact in f64: |ms| stays far below 2^53 for four-digit years.
    Some(ms as f64)
}

fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix('Z') {
        return Some((clock, 0));
    }
    let sign_at = time.rfind(['+', '-'])?;
    let (clock, offset) = time.split_at(sign_at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let (hh, mm) = offset.get(1..)?.split_once(':')?;
    let (hh, mm) = (digits(hh, 2)?, digits(mm, 2)?);
    if hh > 23 || mm > 59 {
        return None;
    }
    Some((clock, sign * (hh * 60 + mm) * 60_000))
}

fn clock_ms(clock: &str) -> Option<i64> {
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (clock, None),
    };
    let mut parts = hms.split(':');
    let hour = digits(parts.next()?, 2)?;
    let minute = digits(parts.next()?, 2)?;
    let second = parts.next().map(|s| digits(s, 2)).unwrap_or(Some(0))?;
    if parts.next().is_some() || (fraction.is_some() && hms.len() != 8) {
        return None;
    }
    let millis = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            // V8 keeps milliseconds and drops finer digits.
            let padded: String = f.chars().chain("00".chars()).take(3).collect();
            padded.parse::<i64>().ok()?
        }
        Some(_) => return None,
    };
    if minute > 59 || second > 59 || hour > 24 || (hour == 24 && (minute, second, millis) != (0, 0, 0)) {
        return None;
    }
    Some(((hour * 60 + minute) * 60 + second) * 1000 + millis)
}

fn digits(s: &str, len: usize) -> Option<i64> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm); `day` may exceed the
/// month's length and then counts on into the next month.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_iso;

    #[test]
    fn matches_node_date_parse() {
        // Expected values printed by Node 20's Date.parse.
        let cases = [
            ("2026-02-30", Some(1_772_409_600_000.0)),
            ("2024-02-29", Some(1_709_164_800_000.0)),
            ("2026-11-23T24:00:00Z", Some(1_795_478_400_000.0)),
            ("2026-11-23T10:00:00.123456Z", Some(1_795_428_000_123.0)),
            ("2026-11-23T10:00:00.1Z", Some(1_795_428_000_100.0)),
            ("2026-11-23T10:00Z", Some(1_795_428_000_000.0)),
            ("2026-11-23T10:00:00+05:30", Some(1_795_408_200_000.0)),
            ("2026", Some(1_767_225_600_000.0)),
            ("2026-11", Some(1_793_491_200_000.0)),
            ("0000-01-01", Some(-62_167_219_200_000.0)),
            ("2026-11-23T24:00:01Z", None),
            ("2026-11-23T10:00:00.Z", None),
            ("2026-13-01", None),
            ("2026-11-00", None),
            ("2026-11-23T10:60:00Z", None),
            ("2026-11-23T10:00:00+24:00", None),
            // Zone-less date-time: local time in JavaScript, refused here.
            ("2026-11-23T10:00:00", None),
            ("", None),
            ("tomorrow", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_iso(input), want, "{input}");
        }
    }
}
