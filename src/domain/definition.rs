//! Campaign definitions as admins write them (TOML, docs/definitions.md), checked key by key.
//! Checks that need the database (does this role exist?) are the engine's; everything that can
//! be judged from the file alone is judged here.

use super::challenge::CHALLENGE_MAX_DAYS;
use super::closing::{OnNoResponse, Verdict};
use super::delta::{ReviewMode, CARRY_MAX_DAYS_LIMIT, DEFAULT_CARRY_MAX_DAYS};
use super::directory::{PrincipalKind, Risk};
use super::limits::{
    check_text, clip_message, quote, Lines, DEFINITION_MAX_BYTES, DESCRIPTION_MAX_CHARS,
    ID_MAX_CHARS, NAME_MAX_CHARS, PERSON_ATTRIBUTES_MAX, SCOPE_MAX_CHARS, WORD_MAX_CHARS,
};
use super::movers::Trigger;
use super::rerun::RERUN_MAX_DAYS;
use super::reviewers::Strategy;
use super::schedule::LaunchSchedule;
use super::spec_error::{parse_all, parse_optional, problem};
pub use super::spec_error::{too_large, SpecError};
use super::stages::{parse_stages, FirstStage, OutcomeRule, RawStage, StageSpec};
use serde::{Deserialize, Serialize};

/// The default share of a campaign's population that may be removed automatically for lack of
/// an answer before an admin must confirm.
pub const DEFAULT_MAX_AUTO_REMOVE_PERCENT: u32 = 50;
/// The default inactivity after which attest recommends revoking.
pub const DEFAULT_INACTIVE_DAYS: u32 = 90;

/// A campaign definition, validated. Stored as JSON with each version and frozen into every
/// campaign launched from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSpec {
    pub name: String,
    pub description: Option<String>,
    pub owner: String,
    /// When it launches (`quarterly`, a crontab line, …); empty for `trigger = "mover"`.
    pub schedule: String,
    /// `mover`: launched once per change of a person's manager (`domain::movers`), not on a
    /// schedule. Left out of the stored JSON when `schedule`.
    #[serde(default, skip_serializing_if = "Trigger::is_schedule")]
    pub trigger: Trigger,
    pub timezone: String,
    pub duration_days: u32,
    pub reviewers: Strategy,
    pub named_reviewers: Vec<String>,
    pub fallback_reviewer: Option<String>,
    pub on_no_response: OnNoResponse,
    pub reminders_days_before: Vec<u32>,
    pub escalate_after_days: Option<u32>,
    pub require_justification: Vec<Verdict>,
    pub recommend_revoke_after_inactive_days: u32,
    pub max_auto_remove_percent: u32,
    /// At the deadline, re-open the unanswered items once for this many days (with fresh links)
    /// before the policy settles them. Absent from specs written before re-runs existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_unanswered_days: Option<u32>,
    /// Challenge period: every revocation whose removal is planned at close is held this many
    /// days, while its holder may give a reason (`domain::challenge`). Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_days: Option<u32>,
    /// Person attributes (extra columns of the people import) the review page shows beside
    /// each holder, frozen with the items at launch. Left out of the stored JSON when empty, so
    /// definitions stored before it read and compare as they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    /// `changes`: ask only about what changed since the last completed campaign, carrying
    /// people's earlier "keep" forward (`domain::delta`). Left out of the stored JSON when `all`.
    #[serde(default, skip_serializing_if = "ReviewMode::is_all")]
    pub review: ReviewMode,
    /// With `review = "changes"`: a carried decision older than this many days is asked again
    /// (default [`DEFAULT_CARRY_MAX_DAYS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carry_max_days: Option<u32>,
    /// The stages after the first (`[[later_stages]]`, `domain::stages`); the top-level
    /// reviewer keys, `duration_days` and `require_justification` are stage 1. Left out of the
    /// stored JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub later_stages: Vec<StageSpec>,
    /// How the stages' decisions make an item's verdict; meaningful with later stages only.
    #[serde(default, skip_serializing_if = "is_default_rule")]
    pub stage_outcome: OutcomeRule,
    pub scope: ScopeFilter,
}

fn is_default_rule(rule: &OutcomeRule) -> bool {
    *rule == OutcomeRule::default()
}

/// Which eligibility a campaign reviews. An empty list means no restriction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScopeFilter {
    pub roles: Vec<String>,
    pub risk: Vec<Risk>,
    pub scopes: Vec<String>,
    pub principal_kinds: Vec<PrincipalKind>,
    /// Reviewed like everyone else, but never removed automatically.
    pub exclude_principals: Vec<String>,
    /// The configured source (`[sources.NAME]`) whose eligibility this reviews and where its
    /// removals go; `None`: the built-in one (what imports fill). Written as the definition's
    /// top-level `source`. Absent from specs written before sources existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Only these holders (external ids): set on a mover campaign's frozen definition to the
    /// person who moved, never written in a definition file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<String>,
}

/// The file as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: String,
    description: Option<String>,
    owner: String,
    schedule: Option<String>,
    trigger: Option<String>,
    #[serde(default = "utc")]
    timezone: String,
    duration_days: i64,
    reviewers: String,
    #[serde(default)]
    named_reviewers: Vec<String>,
    fallback_reviewer: Option<String>,
    on_no_response: String,
    #[serde(default)]
    reminders_days_before: Vec<i64>,
    escalate_after_days: Option<i64>,
    #[serde(default)]
    require_justification: Vec<String>,
    recommend_revoke_after_inactive_days: Option<i64>,
    max_auto_remove_percent: Option<i64>,
    rerun_unanswered_days: Option<i64>,
    challenge_days: Option<i64>,
    #[serde(default)]
    context: Vec<String>,
    review: Option<String>,
    carry_max_days: Option<i64>,
    #[serde(default)]
    later_stages: Vec<RawStage>,
    stage_outcome: Option<String>,
    /// A configured source's name (attest.toml `[sources.NAME]`).
    source: Option<String>,
    #[serde(default)]
    scope: RawScope,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    risk: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    principal_kinds: Vec<String>,
    #[serde(default)]
    exclude_principals: Vec<String>,
}

fn utc() -> String {
    "UTC".into()
}

impl RawSpec {
    /// Every text against its limit, and control characters refused (a description may span
    /// lines); each problem names its key.
    fn text_problems(&self) -> Vec<SpecError> {
        fn all(values: &[String]) -> Vec<&str> {
            values.iter().map(String::as_str).collect()
        }
        let mut problems = Vec::new();
        // One problem a key is enough to correct it.
        let mut check = |key: &str, values: &[&str], max: usize, lines: Lines| {
            if let Some(reason) = values.iter().find_map(|v| check_text(v, max, lines).err()) {
                problems.push(problem(key, reason));
            }
        };
        let single = Lines::Single;
        check("name", &[&self.name], ID_MAX_CHARS, single);
        if let Some(description) = &self.description {
            check(
                "description",
                &[description],
                DESCRIPTION_MAX_CHARS,
                Lines::Multi,
            );
        }
        check("owner", &[&self.owner], ID_MAX_CHARS, single);
        if let Some(source) = &self.source {
            check("source", &[source], WORD_MAX_CHARS, single);
        }
        if let Some(schedule) = &self.schedule {
            check("schedule", &[schedule], WORD_MAX_CHARS, single);
        }
        if let Some(trigger) = &self.trigger {
            check("trigger", &[trigger], WORD_MAX_CHARS, single);
        }
        check("timezone", &[&self.timezone], WORD_MAX_CHARS, single);
        check("reviewers", &[&self.reviewers], WORD_MAX_CHARS, single);
        check(
            "named_reviewers",
            &all(&self.named_reviewers),
            ID_MAX_CHARS,
            single,
        );
        if let Some(fallback) = &self.fallback_reviewer {
            check("fallback_reviewer", &[fallback], ID_MAX_CHARS, single);
        }
        check(
            "on_no_response",
            &[&self.on_no_response],
            WORD_MAX_CHARS,
            single,
        );
        check("context", &all(&self.context), WORD_MAX_CHARS, single);
        if let Some(review) = &self.review {
            check("review", &[review], WORD_MAX_CHARS, single);
        }
        let require = all(&self.require_justification);
        check("require_justification", &require, WORD_MAX_CHARS, single);
        let scope = &self.scope;
        check("scope.roles", &all(&scope.roles), NAME_MAX_CHARS, single);
        check("scope.risk", &all(&scope.risk), WORD_MAX_CHARS, single);
        check("scope.scopes", &all(&scope.scopes), SCOPE_MAX_CHARS, single);
        let kinds = all(&scope.principal_kinds);
        check("scope.principal_kinds", &kinds, WORD_MAX_CHARS, single);
        let excluded = all(&scope.exclude_principals);
        check("scope.exclude_principals", &excluded, ID_MAX_CHARS, single);
        problems
    }
}

impl CampaignSpec {
    /// Parses and checks a definition file; every problem found is returned, each with its key.
    pub fn from_toml(text: &str) -> Result<Self, Vec<SpecError>> {
        if text.len() > DEFINITION_MAX_BYTES {
            return Err(vec![too_large()]);
        }
        let raw: RawSpec = toml::from_str(text).map_err(|e| {
            let key = e.span().map_or_else(String::new, |span| {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}")
            });
            // The parser's message may quote a value whole.
            vec![problem(
                if key.is_empty() { "file" } else { &key },
                clip_message(e.message()),
            )]
        })?;
        let mut errors = raw.text_problems();
        // A value already refused for its length or characters is not parsed again.
        let refused = |key: &str, errors: &[SpecError]| errors.iter().any(|e| e.key == key);
        let schedule_ok = !refused("schedule", &errors);
        let timezone_ok = !refused("timezone", &errors);
        let name_refused = refused("name", &errors);
        let mut check = |ok: bool, key: &str, reason: &str| {
            if !ok {
                errors.push(problem(key, reason));
            }
        };
        let name_ok = name_refused
            || !raw.name.is_empty()
                && raw
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        check(
            name_ok,
            "name",
            "must be non-empty letters, digits, '-' or '_' (it is used on the command line)",
        );
        check(
            !raw.owner.trim().is_empty(),
            "owner",
            "must name a principal",
        );
        check(
            raw.duration_days >= 1,
            "duration_days",
            "must be at least 1",
        );
        check(
            raw.duration_days <= 366,
            "duration_days",
            "must be at most 366",
        );
        let duration = raw.duration_days.max(1);
        for d in &raw.reminders_days_before {
            check(
                *d >= 0 && *d < duration,
                "reminders_days_before",
                "each must be between 0 and duration_days - 1",
            );
        }
        if let Some(d) = raw.escalate_after_days {
            check(
                d >= 1 && d < duration,
                "escalate_after_days",
                "must be between 1 and duration_days - 1",
            );
        }
        if let Some(d) = raw.recommend_revoke_after_inactive_days {
            check(
                (1..=3650).contains(&d),
                "recommend_revoke_after_inactive_days",
                "must be between 1 and 3650",
            );
        }
        if let Some(d) = raw.rerun_unanswered_days {
            check(
                (1..=i64::from(RERUN_MAX_DAYS)).contains(&d),
                "rerun_unanswered_days",
                &format!("must be between 1 and {RERUN_MAX_DAYS}"),
            );
        }
        if let Some(d) = raw.challenge_days {
            check(
                (0..=i64::from(CHALLENGE_MAX_DAYS)).contains(&d),
                "challenge_days",
                &format!("must be between 0 (no challenge period) and {CHALLENGE_MAX_DAYS}"),
            );
        }
        if let Some(p) = raw.max_auto_remove_percent {
            check(
                (0..=100).contains(&p),
                "max_auto_remove_percent",
                "must be between 0 and 100",
            );
        }

        check(
            raw.context.len() <= PERSON_ATTRIBUTES_MAX,
            "context",
            &format!(
                "names at most {PERSON_ATTRIBUTES_MAX} attributes (as many as a person keeps)"
            ),
        );
        check(
            raw.context.iter().all(|a| !a.trim().is_empty()),
            "context",
            "each must name an attribute (an extra column of the people import)",
        );
        let mut named = std::collections::BTreeSet::new();
        check(
            raw.context.iter().all(|a| named.insert(a.as_str())),
            "context",
            "names an attribute twice",
        );

        let timezone = raw.timezone.parse::<chrono_tz::Tz>();
        if timezone.is_err() && timezone_ok {
            errors.push(problem(
                "timezone",
                format!(
                    "{} is not an IANA time zone (like Europe/Berlin)",
                    quote(&raw.timezone)
                ),
            ));
        }
        let trigger_text = raw
            .trigger
            .as_deref()
            .filter(|_| !refused("trigger", &errors));
        let trigger: Trigger = parse_optional(trigger_text, "trigger", &mut errors);
        match (&raw.schedule, trigger) {
            (Some(schedule), Trigger::Schedule) if schedule_ok => {
                if let Err(e) =
                    LaunchSchedule::parse(schedule, timezone.unwrap_or(chrono_tz::UTC))
                {
                    errors.push(problem("schedule", e));
                }
            }
            (None, Trigger::Schedule) => errors.push(problem(
                "schedule",
                "missing: say when campaigns launch (e.g. \"quarterly\"), or set trigger = \"mover\"",
            )),
            (Some(_), Trigger::Mover) => errors.push(problem(
                "schedule",
                "a definition with trigger = \"mover\" launches when a person's manager changes; leave schedule out",
            )),
            _ => {}
        }
        let review_text = raw
            .review
            .as_deref()
            .filter(|_| !refused("review", &errors));
        let review: ReviewMode = parse_optional(review_text, "review", &mut errors);
        if let Some(d) = raw.carry_max_days {
            if review != ReviewMode::Changes {
                errors.push(problem(
                    "carry_max_days",
                    "applies only with review = \"changes\"",
                ));
            } else if !(1..=i64::from(CARRY_MAX_DAYS_LIMIT)).contains(&d) {
                errors.push(problem(
                    "carry_max_days",
                    format!("must be between 1 and {CARRY_MAX_DAYS_LIMIT}"),
                ));
            }
        }
        let reviewers = raw
            .reviewers
            .parse::<Strategy>()
            .map_err(|e| errors.push(problem("reviewers", e)))
            .ok();
        if reviewers == Some(Strategy::Named) && raw.named_reviewers.is_empty() {
            errors.push(problem(
                "named_reviewers",
                "reviewers = \"named\" needs at least one named reviewer",
            ));
        }
        let on_no_response = raw
            .on_no_response
            .parse::<OnNoResponse>()
            .map_err(|e| errors.push(problem("on_no_response", e)))
            .ok();
        let require_justification = parse_all(
            &raw.require_justification,
            "require_justification",
            &mut errors,
        );
        let (later_stages, stage_outcome) = parse_stages(
            &raw.later_stages,
            raw.stage_outcome.as_deref(),
            &FirstStage {
                reminders_days_before: &raw.reminders_days_before,
                escalate_after_days: raw.escalate_after_days,
                require_justification: &require_justification,
            },
            &mut errors,
        );
        let risk = parse_all(&raw.scope.risk, "scope.risk", &mut errors);
        let principal_kinds = parse_all(
            &raw.scope.principal_kinds,
            "scope.principal_kinds",
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        let (Some(reviewers), Some(on_no_response)) = (reviewers, on_no_response) else {
            return Err(errors);
        };
        let mut reminders: Vec<u32> = raw
            .reminders_days_before
            .iter()
            .map(|d| *d as u32)
            .collect();
        reminders.sort_unstable_by(|a, b| b.cmp(a));
        reminders.dedup();
        Ok(Self {
            name: raw.name,
            description: raw.description,
            owner: raw.owner,
            schedule: raw.schedule.as_deref().unwrap_or("").trim().to_string(),
            trigger,
            timezone: raw.timezone,
            duration_days: raw.duration_days as u32,
            reviewers,
            named_reviewers: raw.named_reviewers,
            fallback_reviewer: raw.fallback_reviewer,
            on_no_response,
            reminders_days_before: reminders,
            escalate_after_days: raw.escalate_after_days.map(|d| d as u32),
            require_justification,
            recommend_revoke_after_inactive_days: raw
                .recommend_revoke_after_inactive_days
                .map_or(DEFAULT_INACTIVE_DAYS, |d| d as u32),
            max_auto_remove_percent: raw
                .max_auto_remove_percent
                .map_or(DEFAULT_MAX_AUTO_REMOVE_PERCENT, |p| p as u32),
            rerun_unanswered_days: raw.rerun_unanswered_days.map(|d| d as u32),
            challenge_days: raw.challenge_days.filter(|&d| d > 0).map(|d| d as u32),
            context: raw.context,
            review,
            carry_max_days: raw.carry_max_days.map(|d| d as u32),
            later_stages,
            stage_outcome,
            scope: ScopeFilter {
                roles: raw.scope.roles,
                risk,
                scopes: raw.scope.scopes,
                principal_kinds,
                exclude_principals: raw.scope.exclude_principals,
                source: raw.source.filter(|s| s != "builtin"),
                holders: Vec::new(),
            },
        })
    }

    /// How many days a carried decision lasts (`review = "changes"`).
    pub fn carry_days(&self) -> u32 {
        self.carry_max_days.unwrap_or(DEFAULT_CARRY_MAX_DAYS)
    }

    /// The schedule in the definition's time zone (both were checked at parse time).
    pub fn launch_schedule(&self) -> Result<LaunchSchedule, String> {
        let tz = self
            .timezone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| format!("bad timezone {}", self.timezone))?;
        LaunchSchedule::parse(&self.schedule, tz)
    }

    pub fn timezone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// Whether a decision of this kind needs a justification in the first stage.
    pub fn requires_justification(&self, verdict: Verdict) -> bool {
        self.require_justification.contains(&verdict)
    }

    /// Whether a decision of this kind needs a justification in stage `stage`.
    pub fn requires_justification_in(&self, stage: i32, verdict: Verdict) -> bool {
        self.stage(stage).require_justification.contains(&verdict)
    }

    /// How many stages a campaign of this definition has (1 without `[[later_stages]]`).
    pub fn stage_count(&self) -> i32 {
        1 + self.later_stages.len() as i32
    }

    /// Stage `stage` (1-based) as its own spec: the top-level keys for stage 1. A number past
    /// the last stage reads as the last.
    pub fn stage(&self, stage: i32) -> StageSpec {
        let later = usize::try_from(stage - 2).ok();
        match later.and_then(|i| self.later_stages.get(i).or(self.later_stages.last())) {
            Some(spec) => spec.clone(),
            None => StageSpec {
                reviewers: self.reviewers,
                named_reviewers: self.named_reviewers.clone(),
                fallback_reviewer: self.fallback_reviewer.clone(),
                duration_days: self.duration_days,
                require_justification: self.require_justification.clone(),
            },
        }
    }

    /// The people the definition names, with the key that names each; the engine checks they exist.
    pub fn named_principals(&self) -> Vec<(&'static str, &str)> {
        let mut named = vec![("owner", self.owner.as_str())];
        named.extend(
            self.fallback_reviewer
                .as_deref()
                .map(|f| ("fallback_reviewer", f)),
        );
        named.extend(
            self.named_reviewers
                .iter()
                .map(|n| ("named_reviewers", n.as_str())),
        );
        for stage in &self.later_stages {
            named.extend(
                stage
                    .fallback_reviewer
                    .as_deref()
                    .map(|f| ("later_stages.fallback_reviewer", f)),
            );
            named.extend(
                stage
                    .named_reviewers
                    .iter()
                    .map(|n| ("later_stages.named_reviewers", n.as_str())),
            );
        }
        named.extend(
            self.scope
                .exclude_principals
                .iter()
                .map(|e| ("scope.exclude_principals", e.as_str())),
        );
        named
    }
}

#[cfg(test)]
#[path = "definition_tests.rs"]
mod tests;
