//! The organisation as attest sees it: people, privileged roles and who is eligible for what.

/// What kind of account a principal is. Break-glass accounts are reviewed but never auto-removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Service,
    BreakGlass,
}

/// How much damage a role can do; campaigns select roles by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    High,
    Medium,
    Low,
}

string_enum!(PrincipalKind, "kind", { User => "user", Service => "service", BreakGlass => "break_glass" });
string_enum!(Risk, "risk", { High => "high", Medium => "medium", Low => "low" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_name_the_choices() {
        for kind in PrincipalKind::ALL {
            assert_eq!(kind.as_str().parse::<PrincipalKind>(), Ok(*kind));
        }
        assert_eq!(" High ".parse::<Risk>(), Ok(Risk::High));
        let err = "admin".parse::<PrincipalKind>().unwrap_err();
        assert!(err.contains("user, service, break_glass"), "{err}");
    }
}
