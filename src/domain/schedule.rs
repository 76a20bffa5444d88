//! When a campaign definition launches, and which period a launch belongs to.
//!
//! Users write crontab(5) (minute hour day-of-month month day-of-week, Sunday = 0 or 7); the
//! `cron` crate wants a seconds field first and numbers weekdays 1 = Sunday … 7 = Saturday, so
//! expressions are translated here. Every function takes the time it reasons about; nothing
//! reads the clock.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

/// How often a definition launches; names the period a launch covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Quarterly,
    Monthly,
    Semiannual,
    Annual,
    /// A crontab expression: each firing is its own period.
    Cron,
}

/// A parsed schedule in its time zone.
#[derive(Debug, Clone)]
pub struct LaunchSchedule {
    pub cadence: Cadence,
    pub expression: String,
    pub timezone: Tz,
    cron: cron::Schedule,
}

impl LaunchSchedule {
    /// `quarterly` | `monthly` | `semiannual` | `annual` | a 5-field crontab expression.
    pub fn parse(text: &str, timezone: Tz) -> Result<Self, String> {
        let text = text.trim();
        let (cadence, six_fields) = match text {
            "quarterly" => (Cadence::Quarterly, "0 0 9 1 1,4,7,10 *".to_string()),
            "monthly" => (Cadence::Monthly, "0 0 9 1 * *".to_string()),
            "semiannual" => (Cadence::Semiannual, "0 0 9 1 1,7 *".to_string()),
            "annual" => (Cadence::Annual, "0 0 9 1 1 *".to_string()),
            crontab => (Cadence::Cron, translate_crontab(crontab)?),
        };
        let cron = cron::Schedule::from_str(&six_fields)
            .map_err(|e| format!("\"{text}\" is not a valid schedule: {e}"))?;
        Ok(Self {
            cadence,
            expression: text.to_string(),
            timezone,
            cron,
        })
    }

    /// The first launch strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .after(&t.with_timezone(&self.timezone))
            .next()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The last launch at or before `t`.
    pub fn latest_until(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let just_after = t + chrono::Duration::seconds(1);
        self.cron
            .after(&just_after.with_timezone(&self.timezone))
            .next_back()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The launch that is due at `now`: the latest one in `(since, now]`. A scheduler that was
    /// down over several launch times launches once, for the latest, not once for each.
    pub fn due(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.latest_until(now).filter(|t| *t > since)
    }

    /// The period a launch at `at` covers: `2026-Q4`, `2026-11`, `2026-H2`, `2026`, or for a
    /// crontab schedule the firing it belongs to (`2026-11-23T09:00`).
    pub fn period_of(&self, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&self.timezone);
        match self.cadence {
            Cadence::Quarterly => format!("{}-Q{}", local.year(), (local.month() - 1) / 3 + 1),
            Cadence::Monthly => format!("{}-{:02}", local.year(), local.month()),
            Cadence::Semiannual => format!(
                "{}-H{}",
                local.year(),
                if local.month() <= 6 { 1 } else { 2 }
            ),
            Cadence::Annual => local.year().to_string(),
            Cadence::Cron => {
                let firing = self
                    .latest_until(at)
                    .or_else(|| self.next_after(at))
                    .unwrap_or(at);
                firing
                    .with_timezone(&self.timezone)
                    .format("%Y-%m-%dT%H:%M")
                    .to_string()
            }
        }
    }

    /// Roughly how many days apart launches are; coverage reports allow this much plus grace.
    pub fn cadence_days(&self, from: DateTime<Utc>) -> i64 {
        match self.cadence {
            Cadence::Quarterly => 92,
            Cadence::Monthly => 31,
            Cadence::Semiannual => 184,
            Cadence::Annual => 366,
            Cadence::Cron => {
                let first = self.next_after(from);
                let second = first.and_then(|f| self.next_after(f));
                match (first, second) {
                    (Some(a), Some(b)) => (b - a).num_days().max(1),
                    _ => 366,
                }
            }
        }
    }
}

/// crontab(5) → the `cron` crate's 6 fields.
fn translate_crontab(text: &str) -> Result<String, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields[..] else {
        return Err(format!(
            "\"{text}\" is not a schedule: use quarterly, monthly, semiannual, annual or a 5-field crontab expression (minute hour day-of-month month day-of-week)"
        ));
    };
    if dom != "*" && dow != "*" {
        // crontab fires when either field matches; the cron crate needs both. Refuse rather
        // than launch on days the user did not mean.
        return Err(format!(
            "\"{text}\": restrict day-of-month or day-of-week, not both (crontab would fire on either)"
        ));
    }
    Ok(format!(
        "0 {minute} {hour} {dom} {month} {}",
        translate_weekdays(dow)?
    ))
}

/// Sunday = 0 or 7, Monday = 1 … in crontab; Sunday = 1 … Saturday = 7 in the cron crate.
/// Names (`MON-FRI`) mean the same in both and pass through.
fn translate_weekdays(field: &str) -> Result<String, String> {
    let shift = |n: &str| -> Result<u32, String> {
        let n: u32 = n
            .parse()
            .map_err(|_| format!("day of week \"{n}\" is not 0–7 or a name"))?;
        if n > 7 {
            return Err(format!("day of week {n} is out of range 0–7"));
        }
        Ok(n % 7 + 1)
    };
    let mut parts = Vec::new();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        let is_name = base.chars().any(|c| c.is_ascii_alphabetic());
        if base == "*" || is_name {
            parts.push(item.to_string());
            continue;
        }
        let translated = match base.split_once('-') {
            Some((a, "7")) if step.is_none() && a != "0" => format!("{}-7,1", shift(a)?),
            Some((_, "7")) if step.is_none() => "*".to_string(),
            Some((a, b)) => {
                let (a, b) = (shift(a)?, shift(b)?);
                if a > b {
                    return Err(format!("day-of-week range \"{base}\" runs backwards"));
                }
                format!("{a}-{b}")
            }
            None => shift(base)?.to_string(),
        };
        parts.push(match step {
            Some(step) => format!("{translated}/{step}"),
            None => translated,
        });
    }
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Weekday};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn quarterly_fires_first_of_quarter_at_nine_local() {
        let s = LaunchSchedule::parse("quarterly", chrono_tz::Europe::Berlin).unwrap();
        let next = s.next_after(utc("2026-11-26T10:00:00Z")).unwrap();
        assert_eq!(
            next,
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(2027, 1, 1, 9, 0, 0)
                .unwrap()
        );
        assert_eq!(s.period_of(next), "2027-Q1");
        assert_eq!(s.period_of(utc("2026-11-26T10:00:00Z")), "2026-Q4");
        // Summer time: 1 July 09:00 in Berlin is 07:00 UTC.
        assert_eq!(
            s.next_after(utc("2026-04-02T00:00:00Z")).unwrap(),
            utc("2026-07-01T07:00:00Z")
        );
    }

    #[test]
    fn weekdays_mean_what_crontab_means() {
        let s = LaunchSchedule::parse("0 9 * * 1-5", chrono_tz::UTC).unwrap();
        let mut t = utc("2026-11-21T12:00:00Z"); // a Saturday
        let mut days = Vec::new();
        for _ in 0..5 {
            t = s.next_after(t).unwrap();
            days.push(t.weekday());
        }
        assert_eq!(
            days,
            [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri
            ]
        );
        for (expr, day) in [
            ("0 9 * * 0", Weekday::Sun),
            ("0 9 * * 7", Weekday::Sun),
            ("0 9 * * 6", Weekday::Sat),
        ] {
            let s = LaunchSchedule::parse(expr, chrono_tz::UTC).unwrap();
            assert_eq!(
                s.next_after(utc("2026-11-21T12:00:00Z")).unwrap().weekday(),
                day,
                "{expr}"
            );
        }
        let weekend = LaunchSchedule::parse("0 9 * * 6-7", chrono_tz::UTC).unwrap();
        let sat = weekend.next_after(utc("2026-11-20T12:00:00Z")).unwrap();
        assert_eq!(
            (sat.weekday(), weekend.next_after(sat).unwrap().weekday()),
            (Weekday::Sat, Weekday::Sun)
        );
    }

    #[test]
    fn bad_expressions_say_why() {
        assert!(LaunchSchedule::parse("0 9 * *", chrono_tz::UTC)
            .unwrap_err()
            .contains("5-field"));
        assert!(LaunchSchedule::parse("0 9 1 * 1", chrono_tz::UTC)
            .unwrap_err()
            .contains("not both"));
        assert!(LaunchSchedule::parse("0 25 * * *", chrono_tz::UTC).is_err());
        assert!(LaunchSchedule::parse("0 9 * * 8", chrono_tz::UTC).is_err());
    }

    #[test]
    fn a_missed_launch_is_due_once_for_the_latest_period() {
        let s = LaunchSchedule::parse("quarterly", chrono_tz::UTC).unwrap();
        let defined = utc("2026-11-26T00:00:00Z");
        assert_eq!(s.due(defined, utc("2026-12-31T23:59:00Z")), None);
        assert_eq!(
            s.due(defined, utc("2027-01-01T09:00:00Z")),
            Some(utc("2027-01-01T09:00:00Z"))
        );
        // Down from December to May: one launch, for Q2.
        assert_eq!(
            s.due(defined, utc("2027-05-10T00:00:00Z")),
            Some(utc("2027-04-01T09:00:00Z"))
        );
        assert_eq!(
            s.due(utc("2027-04-01T09:00:00Z"), utc("2027-05-10T00:00:00Z")),
            None
        );
    }
}
