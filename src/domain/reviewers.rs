//! Who reviews an eligibility. Never its holder, never a disabled principal, never a service or
//! break-glass account; and never nobody: what no one else may review goes to the definition's
//! owner, flagged.

use super::directory::PrincipalKind;
use std::collections::HashMap;

/// How a definition picks reviewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Manager,
    RoleOwner,
    Named,
}

string_enum!(Strategy, "reviewer strategy", { Manager => "manager", RoleOwner => "role_owner", Named => "named" });

/// Why this reviewer was chosen; shown to reviewers and auditors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewerReason {
    Manager,
    /// A manager further up the chain, because the ones below may not review.
    ManagerChain,
    RoleOwner,
    Named,
    Fallback,
    /// Nobody else may review it: the definition's owner, flagged.
    Owner,
    /// Handed over by the previous reviewer.
    Reassigned,
}

string_enum!(ReviewerReason, "reviewer reason", {
    Manager => "manager",
    ManagerChain => "manager_chain",
    RoleOwner => "role_owner",
    Named => "named",
    Fallback => "fallback",
    Owner => "owner",
    Reassigned => "reassigned",
});

/// What reviewer resolution needs to know of a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub manager_id: Option<i64>,
    pub enabled: bool,
    pub kind: PrincipalKind,
}

/// The reviewer rules of one campaign.
#[derive(Debug, Clone)]
pub struct ReviewerRules {
    pub strategy: Strategy,
    pub named: Vec<i64>,
    pub fallback: Option<i64>,
    pub owner: i64,
}

/// The reviewer of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub reviewer: i64,
    pub reason: ReviewerReason,
    /// Set when the item needs an admin's attention (nobody regular could review it).
    pub flag: Option<String>,
}

/// How far up a manager chain to look before giving up (and how cycles end).
const MAX_CHAIN: usize = 64;

/// Whether `candidate` may review an eligibility held by `holder`.
pub fn may_review(people: &HashMap<i64, Person>, candidate: i64, holder: i64) -> bool {
    candidate != holder
        && people
            .get(&candidate)
            .is_some_and(|p| p.enabled && p.kind == PrincipalKind::User)
}

impl ReviewerRules {
    /// A stage's rules with the people it names resolved by `id_of` (external id to principal
    /// id); a name that resolves to no one is left out.
    pub fn of(
        stage: &super::stages::StageSpec,
        owner: i64,
        id_of: impl Fn(&str) -> Option<i64>,
    ) -> Self {
        ReviewerRules {
            strategy: stage.reviewers,
            named: stage
                .named_reviewers
                .iter()
                .filter_map(|n| id_of(n))
                .collect(),
            fallback: stage.fallback_reviewer.as_deref().and_then(&id_of),
            owner,
        }
    }

    /// Picks the reviewer of an eligibility held by `holder` in a role owned by `role_owner`.
    pub fn resolve(
        &self,
        people: &HashMap<i64, Person>,
        holder: i64,
        role_owner: Option<i64>,
    ) -> Assignment {
        let first_choice = match self.strategy {
            Strategy::Manager => manager_chain(people, holder),
            Strategy::RoleOwner => role_owner
                .filter(|o| may_review(people, *o, holder))
                .map(|o| (o, ReviewerReason::RoleOwner)),
            Strategy::Named => self
                .named
                .iter()
                .find(|n| may_review(people, **n, holder))
                .map(|n| (*n, ReviewerReason::Named)),
        };
        if let Some((reviewer, reason)) = first_choice {
            return Assignment {
                reviewer,
                reason,
                flag: None,
            };
        }
        if let Some(fallback) = self.fallback.filter(|f| may_review(people, *f, holder)) {
            return Assignment {
                reviewer: fallback,
                reason: ReviewerReason::Fallback,
                flag: None,
            };
        }
        Assignment {
            reviewer: self.owner,
            reason: ReviewerReason::Owner,
            flag: Some(if self.owner == holder {
                "no one else may review this: the campaign owner holds it; an admin must decide"
                    .into()
            } else {
                "no reviewer available (strategy and fallback exhausted); assigned to the campaign owner".into()
            }),
        }
    }
}

/// The first manager up the chain who may review, skipping the holder, disabled principals and
/// non-users; `None` at the top of the tree or in a cycle.
fn manager_chain(people: &HashMap<i64, Person>, holder: i64) -> Option<(i64, ReviewerReason)> {
    let mut current = people.get(&holder)?.manager_id;
    let mut seen = Vec::new();
    while let Some(candidate) = current {
        if seen.contains(&candidate) || seen.len() >= MAX_CHAIN {
            return None;
        }
        if may_review(people, candidate, holder) {
            let reason = if seen.is_empty() {
                ReviewerReason::Manager
            } else {
                ReviewerReason::ManagerChain
            };
            return Some((candidate, reason));
        }
        seen.push(candidate);
        current = people.get(&candidate).and_then(|p| p.manager_id);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(manager: Option<i64>) -> Person {
        Person {
            manager_id: manager,
            enabled: true,
            kind: PrincipalKind::User,
        }
    }

    /// 1 ← 2 ← 3 ← 4 (4's manager is 3, …), 9 is the fallback, 100 the owner.
    fn org() -> HashMap<i64, Person> {
        HashMap::from([
            (1, user(None)),
            (2, user(Some(1))),
            (3, user(Some(2))),
            (4, user(Some(3))),
            (9, user(None)),
            (100, user(None)),
        ])
    }

    fn rules(strategy: Strategy) -> ReviewerRules {
        ReviewerRules {
            strategy,
            named: vec![],
            fallback: Some(9),
            owner: 100,
        }
    }

    #[test]
    fn the_direct_manager_reviews() {
        let a = rules(Strategy::Manager).resolve(&org(), 4, None);
        assert_eq!(
            (a.reviewer, a.reason, a.flag),
            (3, ReviewerReason::Manager, None)
        );
    }

    #[test]
    fn a_disabled_manager_is_skipped_upward() {
        let mut people = org();
        people.get_mut(&3).unwrap().enabled = false;
        let a = rules(Strategy::Manager).resolve(&people, 4, None);
        assert_eq!((a.reviewer, a.reason), (2, ReviewerReason::ManagerChain));
    }

    #[test]
    fn a_holder_who_is_their_own_managers_manager_never_reviews_themself() {
        // 5 reports to 6, who reports to 5: the chain comes back to the holder.
        let mut people = org();
        people.insert(5, user(Some(6)));
        people.insert(
            6,
            Person {
                enabled: false,
                ..user(Some(5))
            },
        );
        let a = rules(Strategy::Manager).resolve(&people, 5, None);
        assert_eq!((a.reviewer, a.reason), (9, ReviewerReason::Fallback));
    }

    #[test]
    fn a_missing_manager_falls_back() {
        let a = rules(Strategy::Manager).resolve(&org(), 1, None);
        assert_eq!((a.reviewer, a.reason), (9, ReviewerReason::Fallback));
        let mut people = org();
        people.insert(7, user(Some(404)));
        assert_eq!(
            rules(Strategy::Manager).resolve(&people, 7, None).reviewer,
            9
        );
    }

    #[test]
    fn service_and_break_glass_managers_do_not_review() {
        let mut people = org();
        people.get_mut(&3).unwrap().kind = PrincipalKind::Service;
        assert_eq!(
            rules(Strategy::Manager).resolve(&people, 4, None).reviewer,
            2
        );
    }

    #[test]
    fn role_owner_strategy_and_owner_holding_the_role() {
        let a = rules(Strategy::RoleOwner).resolve(&org(), 4, Some(2));
        assert_eq!((a.reviewer, a.reason), (2, ReviewerReason::RoleOwner));
        let a = rules(Strategy::RoleOwner).resolve(&org(), 2, Some(2));
        assert_eq!((a.reviewer, a.reason), (9, ReviewerReason::Fallback));
    }

    #[test]
    fn named_reviewers_skip_themselves() {
        let mut r = rules(Strategy::Named);
        r.named = vec![3, 1];
        assert_eq!(r.resolve(&org(), 4, None).reviewer, 3);
        assert_eq!(r.resolve(&org(), 3, None).reviewer, 1);
    }

    #[test]
    fn when_the_fallback_holds_it_too_the_owner_gets_it_flagged() {
        let a = rules(Strategy::Manager).resolve(&org(), 9, None);
        assert_eq!((a.reviewer, a.reason), (100, ReviewerReason::Owner));
        assert!(a.flag.is_some());
    }
}
