//! Civil (proleptic Gregorian, UTC) calendar arithmetic over JavaScript time values: what
//! `Date.UTC` and the `Date.prototype.getUTC*` methods compute, NaN for invalid dates.

pub(super) const MILLIS_PER_DAY: f64 = 86_400_000.0;
/// English month names, January first.
pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// English day names, Monday (ISO day 1) first.
pub(super) const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
/// `TimeClip`'s bound: ±100,000,000 days.
const MAX_TIME: f64 = 8.64e15;

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month 1-12, day) of a day number.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// `TimeClip`: NaN beyond ±8.64e15 ms, else truncated toward zero.
pub(super) fn time_clip(time: f64) -> f64 {
    if !time.is_finite() || time.abs() > MAX_TIME {
        return f64::NAN;
    }
    time.trunc() + 0.0
}

/// `Date.UTC(year, month0, day, hours, minutes, seconds, millis)`, years 0-99 meaning 1900-1999.
pub(super) fn date_utc(fields: [f64; 7]) -> f64 {
    if fields.iter().any(|f| !f.is_finite()) {
        return f64::NAN;
    }
    let [year, month, day, hours, minutes, seconds, millis] = fields.map(f64::trunc);
    let year = if (0.0..=99.0).contains(&year) { 1900.0 + year } else { year };
    let whole_year = year + (month / 12.0).floor();
    if whole_year.abs() > 1_000_000.0 {
        return f64::NAN;
    }
    let month_in_year = month.rem_euclid(12.0);
    let first = days_from_civil(whole_year as i64, month_in_year as i64 + 1, 1) as f64;
    let days = first + day - 1.0;
    let time = hours * 3_600_000.0 + minutes * 60_000.0 + seconds * 1000.0 + millis;
    time_clip(days * MILLIS_PER_DAY + time)
}

/// The UTC fields of a time value, all NaN for an invalid one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub year: f64,
    /// 0-11, as `getUTCMonth`.
    pub month: f64,
    pub day: f64,
    pub hours: f64,
    pub minutes: f64,
    pub seconds: f64,
    pub millis: f64,
    /// 0 (Sunday) - 6, as `getUTCDay`.
    pub weekday: f64,
}

impl Fields {
    pub(super) fn of(time: f64) -> Fields {
        if time.is_nan() {
            let nan = f64::NAN;
            return Fields {
                year: nan,
                month: nan,
                day: nan,
                hours: nan,
                minutes: nan,
                seconds: nan,
                millis: nan,
                weekday: nan,
            };
        }
        let days = (time / MILLIS_PER_DAY).floor();
        let in_day = time - days * MILLIS_PER_DAY;
        let (year, month, day) = civil_from_days(days as i64);
        Fields {
            year: year as f64,
            month: (month - 1) as f64,
            day: day as f64,
            hours: (in_day / 3_600_000.0).floor(),
            minutes: (in_day / 60_000.0).floor() % 60.0,
            seconds: (in_day / 1000.0).floor() % 60.0,
            millis: in_day % 1000.0,
            weekday: (days + 4.0).rem_euclid(7.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_calendar() {
        let time = 1_700_000_000_123.0;
        let f = Fields::of(time);
        assert_eq!(
            (f.year, f.month, f.day, f.hours, f.minutes, f.seconds, f.millis),
            (2023.0, 10.0, 14.0, 22.0, 13.0, 20.0, 123.0)
        );
        assert_eq!(f.weekday, 2.0);
        assert_eq!(date_utc([f.year, f.month, f.day, f.hours, f.minutes, f.seconds, f.millis]), time);
        assert_eq!(date_utc([99.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]), date_utc([1999.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]));
        assert!(date_utc([300_000.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]).is_nan());
        assert!(Fields::of(f64::NAN).year.is_nan());
        assert_eq!(Fields::of(-1.0).year, 1969.0);
    }
}
