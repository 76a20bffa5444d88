//! How figures are written wherever people read them (console, reports, evidence): one rule,
//! so the same share reads the same on every surface.

/// `part` of `whole` as a percentage: whole numbers when exact ("50%"), else one decimal
/// ("12.5%"), never "0%" for a share that is not nothing ("0.4%", or "<0.1%") and never "100%"
/// for one that is not everything ("99.8%", or ">99.9%"). "—" when there is no whole.
pub fn share(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "—".into();
    }
    if part <= 0 {
        return "0%".into();
    }
    if part >= whole {
        return "100%".into();
    }
    if (part * 100) % whole == 0 {
        return format!("{}%", part * 100 / whole);
    }
    // Tenths of a percent, rounded, then kept off 0 and 100 (which would misstate the share).
    let tenths = (part as i128 * 1000 + whole as i128 / 2) / whole as i128;
    match tenths {
        0 => "<0.1%".into(),
        1000.. => ">99.9%".into(),
        t if t % 10 == 0 => format!("{}%", t / 10),
        t => format!("{}.{}%", t / 10, t % 10),
    }
}

/// "1 eligibility", "2 eligibilities": a count with its noun in the right number.
pub fn count(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A duration for people: "40 s", "12 min", "3.5 hours", "2.1 days" (never "0.0 hours" for
/// something that took seconds).
pub fn duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{} s", seconds.round() as i64)
    } else if seconds < 90.0 * 60.0 {
        format!("{} min", (seconds / 60.0).round() as i64)
    } else if seconds < 48.0 * 3600.0 {
        format!("{:.1} hours", seconds / 3600.0)
    } else {
        format!("{:.1} days", seconds / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_never_rounded_to_nothing_or_to_everything() {
        assert_eq!(share(2, 545), "0.4%");
        assert_eq!(share(1, 100_000), "<0.1%");
        assert_eq!(share(544, 545), "99.8%");
        assert_eq!(share(99_999, 100_000), ">99.9%");
        assert_eq!(share(1, 8), "12.5%");
        assert_eq!(share(1, 2), "50%");
        assert_eq!(share(2, 3), "66.7%");
        assert_eq!(share(0, 545), "0%");
        assert_eq!(share(545, 545), "100%");
        assert_eq!(share(0, 0), "—");
        // 1 of 201 is 0.4975 %: rounded to tenths, 0.5, written as such.
        assert_eq!(share(1, 201), "0.5%");
        // 199 of 200 is 99.5 %.
        assert_eq!(share(199, 200), "99.5%");
    }

    #[test]
    fn durations_are_written_in_a_unit_that_shows_them() {
        assert_eq!(duration(40.0), "40 s");
        assert_eq!(duration(12.0 * 60.0), "12 min");
        assert_eq!(duration(3.5 * 3600.0), "3.5 hours");
        assert_eq!(duration(50.0 * 3600.0), "2.1 days");
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1, "eligibility", "eligibilities"), "1 eligibility");
        assert_eq!(count(0, "eligibility", "eligibilities"), "0 eligibilities");
        assert_eq!(count(69, "removal", "removals"), "69 removals");
    }
}
