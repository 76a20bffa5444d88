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

/// The attributes a definition names (`context`), in its order, with their values from a
/// holder's frozen attributes (a JSON object of text); an attribute the holder lacks is left
/// out, and unreadable attributes read as none.
pub fn holder_context(names: &[String], frozen: Option<&str>) -> Vec<(String, String)> {
    let Some(frozen) = frozen.filter(|_| !names.is_empty()) else {
        return Vec::new();
    };
    let Ok(values) = serde_json::from_str::<std::collections::HashMap<String, String>>(frozen)
    else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|name| Some((name.clone(), values.get(name)?.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_context_keeps_the_named_attributes_in_the_definitions_order() {
        let names = vec![
            "department".to_string(),
            "title".to_string(),
            "desk".to_string(),
        ];
        let frozen = r#"{"cost_center":"42","title":"Engineer","department":"Ops"}"#;
        assert_eq!(
            holder_context(&names, Some(frozen)),
            vec![
                ("department".to_string(), "Ops".to_string()),
                ("title".to_string(), "Engineer".to_string())
            ]
        );
        assert!(holder_context(&names, None).is_empty());
        assert!(holder_context(&[], Some(frozen)).is_empty());
        assert!(holder_context(&names, Some("not json")).is_empty());
    }

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
