//! The weekly activation review's rules: the activations file's rows, ISO weeks (`2026-W47`),
//! working hours in the holder's time zone, and which holders activate a role far more or less
//! often than its other holders. Pure: the engine reads the activations and applies these.

use super::limits::quote;
use super::records::{key_of, parse_timestamp, Fields, ImportKind, Record, RowError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use std::fmt;

/// Working hours, in the holder's own time zone: Monday to Friday, from 08:00 until 18:00
/// (an activation at 18:00 sharp is outside). People without a time zone are read in UTC.
pub const WORKING_DAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];
pub const WORKING_HOURS_START: u32 = 8;
pub const WORKING_HOURS_END: u32 = 18;

/// How many weeks the frequency rule looks at: the reported week and the four before it.
pub const FREQUENCY_WEEKS: i64 = 5;
/// A role needs this many holders who activated it in those weeks before anyone is compared.
pub const FREQUENCY_MIN_ACTIVE_HOLDERS: usize = 3;
/// "Far more often": at least this many times the median of the role's holders …
pub const FREQUENCY_FACTOR: f64 = 3.0;
/// … and at least this many activations.
pub const FREQUENCY_MIN_COUNT: u32 = 5;
/// "Far less often": none at all while the median is at least this.
pub const FREQUENCY_RARE_MEDIAN: f64 = 3.0;

/// One activation as the activations file describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationRow {
    pub line: u64,
    pub principal: String,
    pub role: String,
    pub scope: String,
    pub activated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub justification: Option<String>,
}

impl ActivationRow {
    pub fn parse(record: &Record) -> Result<Self, RowError> {
        let f = Fields::new(ImportKind::Activations, record)?;
        let activated_at = parse_timestamp(f.required("activated_at")?)
            .map_err(|reason| f.error("activated_at", reason))?;
        let ended_at = f.parse("ended_at", parse_timestamp)?;
        if ended_at.is_some_and(|end| end < activated_at) {
            return Err(f.error("ended_at", "is before activated_at"));
        }
        Ok(Self {
            line: record.line,
            principal: f.required("principal_id")?.to_string(),
            role: f.required("role")?.to_string(),
            scope: f.required("scope")?.to_string(),
            activated_at,
            ended_at,
            justification: f.optional("justification").map(str::to_string),
        })
    }

    /// A file may list each holder × role × scope × start once.
    pub fn key(&self) -> u128 {
        key_of(&[
            &self.principal,
            &self.role,
            &self.scope,
            &self.activated_at.to_rfc3339(),
        ])
    }
}

/// An ISO 8601 week (`2026-W47`): Monday 00:00 UTC to the next Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IsoWeek {
    monday: NaiveDate,
}

impl IsoWeek {
    /// Exactly `YYYY-Www` with a week the year has (W53 only in years that have one).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "week {} is not an ISO week like 2026-W47 (YYYY-Www)",
                quote(text)
            )
        };
        let b = text.as_bytes();
        let shaped = b.len() == 8
            && b[4] == b'-'
            && b[5] == b'W'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 5 || c.is_ascii_digit());
        if !shaped {
            return Err(bad());
        }
        let year: i32 = text[..4].parse().map_err(|_| bad())?;
        let week: u32 = text[6..].parse().map_err(|_| bad())?;
        let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
            .ok_or_else(|| format!("week {}: {year} has no week {week}", quote(text)))?;
        Ok(Self { monday })
    }

    /// The week `at` falls in.
    pub fn containing(at: DateTime<Utc>) -> Self {
        let day = at.date_naive();
        Self {
            monday: day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        }
    }

    /// The last week that is over at `now`.
    pub fn last_complete(now: DateTime<Utc>) -> Self {
        Self::containing(now).previous(1)
    }

    /// The week `n` weeks before this one.
    pub fn previous(self, n: i64) -> Self {
        Self {
            monday: self.monday - Duration::weeks(n),
        }
    }

    pub fn start(self) -> DateTime<Utc> {
        self.monday.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    pub fn end(self) -> DateTime<Utc> {
        self.start() + Duration::weeks(1)
    }

    /// The start of the frequency rule's window: four weeks before this one.
    pub fn window_start(self) -> DateTime<Utc> {
        self.previous(FREQUENCY_WEEKS - 1).start()
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let iso = self.monday.iso_week();
        write!(f, "{:04}-W{:02}", iso.year(), iso.week())
    }
}

/// Whether `at` falls outside working hours in `timezone` (an IANA name; UTC when none or not
/// one), and the local time written out ("Sat 23:40").
pub fn outside_working_hours(at: DateTime<Utc>, timezone: Option<&str>) -> (bool, String) {
    let tz: chrono_tz::Tz = timezone
        .and_then(|name| name.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let local = at.with_timezone(&tz);
    let working = WORKING_DAYS.contains(&local.weekday())
        && (WORKING_HOURS_START..WORKING_HOURS_END).contains(&local.hour());
    (!working, local.format("%a %H:%M").to_string())
}

/// The most findings one role owner's weekly mail lists; the console has them all.
pub const MAIL_FINDINGS_SHOWN: usize = 50;

/// The `(label, text)` lines of one owner's mail: the first [`MAIL_FINDINGS_SHOWN`], then one
/// line counting the rest.
pub fn mail_lines(mut lines: Vec<(String, String)>) -> Vec<(String, String)> {
    let total = lines.len();
    if total > MAIL_FINDINGS_SHOWN {
        lines.truncate(MAIL_FINDINGS_SHOWN);
        lines.push((
            "And more".to_string(),
            format!(
                "{} further findings: see the whole week's review",
                total - MAIL_FINDINGS_SHOWN
            ),
        ));
    }
    lines
}

/// How a holder's count stands out from the role's other holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// At least [`FREQUENCY_FACTOR`] × the median and at least [`FREQUENCY_MIN_COUNT`].
    FarMore,
    /// None at all while the median is at least [`FREQUENCY_RARE_MEDIAN`].
    FarLess,
}

/// The median of `counts` (the mean of the middle two when there is an even number).
pub fn median(counts: &[u32]) -> f64 {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => f64::from(sorted[n / 2]),
        n => (f64::from(sorted[n / 2 - 1]) + f64::from(sorted[n / 2])) / 2.0,
    }
}

/// The outliers among one role's holders, given each holder's activations over the
/// [`FREQUENCY_WEEKS`] weeks (zero for holders who did not activate): nothing unless at least
/// [`FREQUENCY_MIN_ACTIVE_HOLDERS`] of them activated; then each holder with
/// [`Frequency::FarMore`] or [`Frequency::FarLess`], with their count, and the median.
pub fn frequency_outliers<K: Clone>(holders: &[(K, u32)]) -> (f64, Vec<(K, u32, Frequency)>) {
    let counts: Vec<u32> = holders.iter().map(|(_, n)| *n).collect();
    let median = median(&counts);
    if counts.iter().filter(|n| **n > 0).count() < FREQUENCY_MIN_ACTIVE_HOLDERS {
        return (median, Vec::new());
    }
    let outliers = holders
        .iter()
        .filter_map(|(who, n)| {
            let kind = if *n >= FREQUENCY_MIN_COUNT && f64::from(*n) >= FREQUENCY_FACTOR * median {
                Frequency::FarMore
            } else if *n == 0 && median >= FREQUENCY_RARE_MEDIAN {
                Frequency::FarLess
            } else {
                return None;
            };
            Some((who.clone(), *n, kind))
        })
        .collect();
    (median, outliers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn weeks_parse_strictly_and_span_monday_to_monday() {
        let week = IsoWeek::parse("2026-W47").unwrap();
        assert_eq!(week.start(), at("2026-11-16T00:00:00Z"));
        assert_eq!(week.end(), at("2026-11-23T00:00:00Z"));
        assert_eq!(week.to_string(), "2026-W47");
        assert_eq!(week.window_start(), at("2026-10-19T00:00:00Z"));
        // 2026 has 53 ISO weeks; 2027 has 52.
        assert!(IsoWeek::parse("2026-W53").is_ok());
        let err = IsoWeek::parse("2027-W53").unwrap_err();
        assert!(err.contains("2027 has no week 53"), "{err}");
        for bad in [
            "2026-47",
            "2026-W7",
            "2026W47",
            "+2026-W47",
            "2026-w47",
            "",
            "2026-W00",
        ] {
            assert!(IsoWeek::parse(bad).is_err(), "{bad}");
        }
        assert!(IsoWeek::parse("2026-47")
            .unwrap_err()
            .contains("not an ISO week like 2026-W47"));
    }

    #[test]
    fn the_last_complete_week_is_the_one_before_now() {
        // Wednesday of week 48: week 47 is the last complete one.
        let now = at("2026-11-25T10:00:00Z");
        assert_eq!(IsoWeek::last_complete(now).to_string(), "2026-W47");
        // Monday 00:00 of week 48: week 47 has just ended.
        let now = at("2026-11-23T00:00:00Z");
        assert_eq!(IsoWeek::last_complete(now).to_string(), "2026-W47");
        // Year boundary: 2027-01-01 (Friday) is in 2026-W53.
        assert_eq!(
            IsoWeek::containing(at("2027-01-01T12:00:00Z")).to_string(),
            "2026-W53"
        );
    }

    #[test]
    fn working_hours_are_read_in_the_holders_zone() {
        // Tuesday 07:30 UTC is 16:30 in Tokyo (working) and 07:30 in UTC (not).
        let tuesday = at("2026-11-17T07:30:00Z");
        assert_eq!(
            outside_working_hours(tuesday, Some("Asia/Tokyo")),
            (false, "Tue 16:30".to_string())
        );
        assert!(outside_working_hours(tuesday, None).0);
        assert!(outside_working_hours(tuesday, Some("Not/AZone")).0);
        // 18:00 sharp is outside, 17:59 inside, 08:00 inside.
        assert!(outside_working_hours(at("2026-11-17T18:00:00Z"), None).0);
        assert!(!outside_working_hours(at("2026-11-17T17:59:00Z"), None).0);
        assert!(!outside_working_hours(at("2026-11-17T08:00:00Z"), None).0);
        // Friday 20:00 in New York is Saturday 01:00 UTC: working day locally, but after hours.
        let (outside, local) =
            outside_working_hours(at("2026-11-21T01:00:00Z"), Some("America/New_York"));
        assert_eq!((outside, local.as_str()), (true, "Fri 20:00"));
        // Saturday noon is outside.
        assert!(outside_working_hours(at("2026-11-21T12:00:00Z"), None).0);
    }

    #[test]
    fn a_long_mail_lists_fifty_findings_and_counts_the_rest() {
        let line = |i: usize| ("Break-glass activation".to_string(), format!("#{i}"));
        let short: Vec<_> = (0..MAIL_FINDINGS_SHOWN).map(line).collect();
        assert_eq!(mail_lines(short.clone()), short);
        let long: Vec<_> = (0..MAIL_FINDINGS_SHOWN + 7).map(line).collect();
        let shown = mail_lines(long);
        assert_eq!(shown.len(), MAIL_FINDINGS_SHOWN + 1);
        assert_eq!(shown[MAIL_FINDINGS_SHOWN - 1].1, "#49");
        assert_eq!(
            shown[MAIL_FINDINGS_SHOWN].1,
            "7 further findings: see the whole week's review"
        );
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[5, 1, 3]), 3.0);
        assert_eq!(median(&[1, 2, 3, 10]), 2.5);
    }

    #[test]
    fn frequency_outliers_follow_the_rule() {
        // Median 2: 6 is ≥ 3×2 and ≥ 5, far more; 5 is < 6, not.
        let (m, out) = frequency_outliers(&[("a", 2), ("b", 2), ("c", 6), ("d", 1), ("e", 5)]);
        assert_eq!(m, 2.0);
        assert_eq!(out, vec![("c", 6, Frequency::FarMore)]);
        // Median 1, count 4: 4 ≥ 3×1 but < 5, not an outlier.
        let (_, out) = frequency_outliers(&[("a", 1), ("b", 1), ("c", 4)]);
        assert!(out.is_empty());
        // Median 3.5 and one holder never activated: far less.
        let (m, out) = frequency_outliers(&[("a", 4), ("b", 3), ("c", 0), ("d", 4)]);
        assert_eq!(m, 3.5);
        assert_eq!(out, vec![("c", 0, Frequency::FarLess)]);
        // Only two holders activated: the role is not compared at all.
        let (_, out) = frequency_outliers(&[("a", 30), ("b", 1), ("c", 0)]);
        assert!(out.is_empty());
    }

    #[test]
    fn activation_rows_are_checked_by_field() {
        let columns = ImportKind::Activations.columns();
        let record = |pairs: &[(&str, &str)]| Record {
            line: 4,
            values: columns
                .iter()
                .map(|c| {
                    pairs
                        .iter()
                        .find(|(k, _)| *k == c.name)
                        .map(|(_, v)| v.to_string())
                })
                .collect(),
            attributes: Vec::new(),
        };
        let base = [
            ("principal_id", "u1"),
            ("role", "R"),
            ("scope", "/"),
            ("activated_at", "2026-11-17T07:30:00Z"),
        ];
        let row = ActivationRow::parse(&record(&base)).unwrap();
        assert_eq!(row.activated_at, at("2026-11-17T07:30:00Z"));
        let mut bad = base.to_vec();
        bad[3] = ("activated_at", "yesterday");
        let err = ActivationRow::parse(&record(&bad)).unwrap_err();
        assert_eq!((err.line, err.field.as_deref()), (4, Some("activated_at")));
        let mut early = base.to_vec();
        early.push(("ended_at", "2026-11-17T07:00:00Z"));
        let err = ActivationRow::parse(&record(&early)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("ended_at"));
    }
}
