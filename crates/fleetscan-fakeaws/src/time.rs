//! Timestamps as AWS writes them (ISO 8601 UTC), without a date library.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub(crate) fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `2024-05-01T12:34:56Z`, or `2024-05-01T12:34:56.000Z` with `millis`.
pub(crate) fn write_iso8601(out: &mut String, epoch_seconds: i64, millis: bool) {
    let (year, month, day) = civil_from_days(epoch_seconds.div_euclid(86_400));
    let second_of_day = epoch_seconds.rem_euclid(86_400);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    out.push_str(if millis { ".000Z" } else { "Z" });
}

/// `write_iso8601` into a new string (for expectations and tests).
pub fn iso8601(epoch_seconds: i64) -> String {
    let mut out = String::with_capacity(24);
    write_iso8601(&mut out, epoch_seconds, false);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_714_566_896), "2024-05-01T12:34:56Z");
        let mut out = String::new();
        write_iso8601(&mut out, 4_102_444_799, true);
        assert_eq!(out, "2099-12-31T23:59:59.000Z");
    }
}
