//! Movers (SailPoint's event-based certifications): when a person's manager changes, their
//! eligibility goes into a small campaign of every definition with `trigger = "mover"`, reviewed
//! by the new manager, due in the definition's `duration_days`. A first manager (a joiner) or a
//! manager removed (nobody to review) is not a move.

/// What launches a definition's campaigns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Its `schedule` (the default).
    #[default]
    Schedule,
    /// A change of a person's manager, once per change.
    Mover,
}

string_enum!(Trigger, "trigger", { Schedule => "schedule", Mover => "mover" });

impl Trigger {
    /// Whether this is the default (left out of stored definitions, so those stored before
    /// triggers existed read and compare as they were).
    pub fn is_schedule(&self) -> bool {
        *self == Trigger::Schedule
    }
}

/// One change of manager: `(person, old manager, new manager)`.
pub type Move = (i64, i64, i64);

/// The moves among manager changes `(person, manager before, manager after)`: from one manager
/// to another.
pub fn moves(changes: impl IntoIterator<Item = (i64, Option<i64>, Option<i64>)>) -> Vec<Move> {
    changes
        .into_iter()
        .filter_map(|(person, before, after)| match (before, after) {
            (Some(before), Some(after)) if before != after => Some((person, before, after)),
            _ => None,
        })
        .collect()
}

/// The launch key of the mover campaign for event `event` (unique per definition, so a second
/// instance or a retried tick launches nothing twice).
pub fn launch_key(event: i64) -> String {
    format!("mover/{event}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_from_one_manager_to_another_is_a_move() {
        let changes = [
            (1, Some(10), Some(11)), // moved
            (2, None, Some(11)),     // joiner: first manager
            (3, Some(10), None),     // manager removed
            (4, Some(10), Some(10)), // unchanged
        ];
        assert_eq!(moves(changes), vec![(1, 10, 11)]);
    }
}
