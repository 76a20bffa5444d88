//! The LDAP source against a real OpenLDAP slapd the tests start (see common::slapd).
//!
//! Every test starts its own slapd (own ports, own folder) and builds `LdapConnector`s directly;
//! each sets the bind password in an environment variable only it uses, since the tests share
//! one process. What the connector did is checked with the real `ldapsearch`, not with the
//! connector itself.

use crate::common::slapd::{
    self, GroupKind, GroupSpec, Slapd, PEOPLE_BASE, READER_DN, READER_PASSWORD, SERVICE_DN,
    SERVICE_PASSWORD, SIZE_LIMIT,
};
use attest::domain::directory::{PrincipalKind, Risk};
use attest::sources::config::{LdapConfig, LdapGroup, OnReappearance};
use attest::sources::connector::Connector;
use attest::sources::ldap::LdapConnector;
use attest::sources::{Removal, RemovalTarget};
use std::collections::BTreeSet;

/// The role each default group grants, by group cn.
fn role_of(cn: &str) -> &'static str {
    match cn {
        "domain-admins" => "Domain Admin",
        "db-admins" => "Database Admin",
        "backup-ops" => "Backup Operator",
        other => panic!("no role for {other}"),
    }
}

/// Sets `password` in an environment variable named after `test` and returns its name.
fn password_env(test: &str, password: &str) -> String {
    let var = format!("ATTEST_TEST_LDAP_{}", test.to_uppercase());
    std::env::set_var(&var, password);
    var
}

/// A configuration binding as `bind_dn`, whose groups are the `cns` (all of one kind).
fn config(slapd: &Slapd, env: &str, bind_dn: &str, kind: GroupKind, cns: &[&str]) -> LdapConfig {
    LdapConfig {
        url: slapd.url.clone(),
        starttls: false,
        tls_insecure: false,
        bind_dn: bind_dn.to_string(),
        password_env: env.to_string(),
        people_base: PEOPLE_BASE.to_string(),
        people_filter: "(objectClass=inetOrgPerson)".into(),
        member_attribute: kind.attribute().to_string(),
        on_reappearance: OnReappearance::Flag,
        sync_schedule: None,
        groups: cns
            .iter()
            .map(|cn| LdapGroup {
                dn: slapd::group_dn(cn),
                role: role_of(cn).to_string(),
                scope: "/".into(),
                risk: "high".into(),
                owner: None,
                description: None,
            })
            .collect(),
    }
}

fn connector(name: &str, config: &LdapConfig) -> LdapConnector {
    LdapConnector::new(name, config).unwrap_or_else(|e| panic!("{e}"))
}

fn target(uid: &str, role: &str) -> RemovalTarget {
    RemovalTarget {
        eligibility_id: 1,
        item_id: 2,
        principal_external_id: uid.to_string(),
        role_name: role.to_string(),
        scope: "/".into(),
        campaign_id: 3,
        kind: Default::default(),
        assignment: Default::default(),
    }
}

/// Every group's member values and its modification stamp, to prove nothing changed.
fn state(slapd: &Slapd) -> Vec<(Vec<String>, String)> {
    slapd
        .groups
        .iter()
        .map(|g| {
            let stamp = slapd.stamp(&g.dn());
            assert!(
                stamp.contains("modifyTimestamp: ") && stamp.contains("entryCSN: "),
                "{stamp}"
            );
            (slapd.members(&g.cn), stamp)
        })
        .collect()
}

#[test]
fn ldap_config_errors_name_the_source_and_the_field() {
    let env = password_env("config_errors", "whatever");
    let base = LdapConfig {
        url: "ldap://127.0.0.1:1".into(),
        starttls: false,
        tls_insecure: false,
        bind_dn: SERVICE_DN.into(),
        password_env: env.clone(),
        people_base: PEOPLE_BASE.into(),
        people_filter: "(objectClass=inetOrgPerson)".into(),
        member_attribute: "member".into(),
        on_reappearance: OnReappearance::Flag,
        sync_schedule: None,
        groups: vec![LdapGroup {
            dn: slapd::group_dn("domain-admins"),
            role: "Domain Admin".into(),
            scope: "/".into(),
            risk: "high".into(),
            owner: None,
            description: None,
        }],
    };
    assert!(LdapConnector::new("corp", &base).is_ok());
    let error = |config: &LdapConfig| {
        LdapConnector::new("corp", config)
            .expect_err("the configuration is refused")
            .0
    };

    let mut bad = base.clone();
    bad.member_attribute = "members".into();
    let e = error(&bad);
    assert!(
        e.starts_with("source corp: [sources.corp] member_attribute"),
        "{e}"
    );
    assert!(e.contains("uniqueMember"), "{e}");

    let mut bad = base.clone();
    bad.groups[0].risk = "severe".into();
    let e = error(&bad);
    assert!(
        e.starts_with("source corp: [sources.corp] groups[0].risk"),
        "{e}"
    );
    assert!(e.contains("severe"), "{e}");

    let mut bad = base.clone();
    bad.people_filter = "objectClass=person)".into();
    assert!(error(&bad).contains("people_filter"));

    let mut bad = base.clone();
    bad.url = "http://directory".into();
    assert!(error(&bad).contains("[sources.corp] url"));

    let mut bad = base.clone();
    bad.groups.push(bad.groups[0].clone());
    bad.groups[1].dn = slapd::group_dn("other");
    assert!(error(&bad).contains("groups[1].role"));

    let mut bad = base;
    bad.password_env = "ATTEST_TEST_LDAP_NEVER_SET".into();
    let e = error(&bad);
    assert!(e.starts_with("source corp: "), "{e}");
    assert!(e.contains("ATTEST_TEST_LDAP_NEVER_SET"), "{e}");
}

#[tokio::test]
async fn ldap_snapshot_lists_every_person_with_their_manager_and_exactly_the_group_members() {
    let people = 300;
    if !crate::common::slapd::available(
        "ldap_snapshot_lists_every_person_with_their_manager_and_exactly_the_group_members",
    ) {
        return;
    }
    let slapd = Slapd::start(people);
    // The directory really limits a plain search, so only paged results can list everyone.
    let (code, _) = slapd.ldapsearch_as(SERVICE_DN, SERVICE_PASSWORD, PEOPLE_BASE, "(uid=*)");
    assert_eq!(
        code, 4,
        "slapd should refuse more than {SIZE_LIMIT} entries unpaged"
    );
    let env = password_env("snapshot", SERVICE_PASSWORD);

    for group in slapd.groups.clone() {
        let mut config = config(&slapd, &env, SERVICE_DN, group.kind, &[&group.cn]);
        config.groups[0].risk = "medium".into();
        config.groups[0].owner = Some("u0001".into());
        config.groups[0].description = Some(format!("members of {}", group.cn));
        let snapshot = connector("corp", &config)
            .snapshot()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", group.cn));

        assert_eq!(snapshot.people.len(), people, "{}", group.cn);
        for (i, person) in (1..=people).zip(&snapshot.people) {
            let uid = slapd::uid(i);
            assert_eq!(person.external_id, uid);
            assert_eq!(person.name, format!("Person {i}"));
            assert_eq!(
                person.email.as_deref(),
                Some(format!("{uid}@example.com").as_str())
            );
            assert_eq!(person.manager, slapd::manager_uid(i), "manager of {uid}");
            assert_eq!(person.kind, PrincipalKind::User);
            assert!(person.enabled);
        }
        assert!(
            snapshot
                .warnings
                .iter()
                .any(|w| w.starts_with("6 people name a manager who is not among the people")),
            "{:?}",
            snapshot.warnings
        );

        assert_eq!(snapshot.roles.len(), 1);
        let role = &snapshot.roles[0];
        assert_eq!(role.name, role_of(&group.cn));
        assert_eq!(role.risk, Risk::Medium);
        assert_eq!(role.owner.as_deref(), Some("u0001"));
        assert_eq!(
            role.description.as_deref(),
            Some(format!("members of {}", group.cn).as_str())
        );

        let listed: BTreeSet<&str> = snapshot
            .eligibility
            .iter()
            .map(|e| {
                assert_eq!(e.role, role_of(&group.cn));
                assert_eq!(e.scope, "/");
                assert_eq!((e.start, e.end, e.last_activated_at), (None, None, None));
                e.principal.as_str()
            })
            .collect();
        let expected: BTreeSet<&str> = group.members.iter().map(String::as_str).collect();
        assert!(
            expected.len() > 20,
            "{}: too few members to mean much",
            group.cn
        );
        assert_eq!(listed, expected, "{}", group.cn);
        assert_eq!(snapshot.eligibility.len(), expected.len(), "no duplicates");
        // The values that are nobody are one warning for the group, not one per value.
        let skipped: Vec<&String> = snapshot
            .warnings
            .iter()
            .filter(|w| w.contains(&group.dn()))
            .collect();
        assert_eq!(skipped.len(), 1, "{:?}", snapshot.warnings);
        assert!(
            skipped[0].contains(&format!(
                "{} {} values",
                group.others.len(),
                group.kind.attribute()
            )),
            "{}",
            skipped[0]
        );
    }

    // An owner who is not among the people is dropped with a warning (every id a snapshot
    // names must be one of its people).
    let mut config = config(
        &slapd,
        &env,
        SERVICE_DN,
        GroupKind::Names,
        &["domain-admins"],
    );
    config.groups[0].owner = Some("u9999".into());
    let snapshot = connector("corp", &config)
        .snapshot()
        .await
        .expect("snapshot");
    assert_eq!(snapshot.roles[0].owner, None);
    assert!(
        snapshot.warnings.iter().any(|w| w.contains("u9999")),
        "{:?}",
        snapshot.warnings
    );
}

#[tokio::test]
async fn ldap_snapshot_of_a_group_that_does_not_exist_is_an_error() {
    if !crate::common::slapd::available("ldap_snapshot_of_a_group_that_does_not_exist_is_an_error")
    {
        return;
    }
    let slapd = Slapd::start(5);
    let env = password_env("missing_group", SERVICE_PASSWORD);
    let config = config(
        &slapd,
        &env,
        SERVICE_DN,
        GroupKind::Names,
        &["domain-admins", "backup-ops"],
    );
    let mut config = config;
    config.groups[1].dn = slapd::group_dn("domian-admins");
    let e = connector("corp", &config)
        .snapshot()
        .await
        .expect_err("a typo in a group DN must not read as nobody");
    assert_eq!(
        e.0,
        format!(
            "source corp: group {} does not exist",
            slapd::group_dn("domian-admins")
        )
    );
}

#[tokio::test]
async fn ldap_remove_deletes_the_member_and_the_read_back_sees_it_gone() {
    if !crate::common::slapd::available(
        "ldap_remove_deletes_the_member_and_the_read_back_sees_it_gone",
    ) {
        return;
    }
    let slapd = Slapd::start(40);
    let env = password_env("remove", SERVICE_PASSWORD);
    for group in slapd.groups.clone() {
        let ldap = connector(
            "corp",
            &config(&slapd, &env, SERVICE_DN, group.kind, &[&group.cn]),
        );
        let role = role_of(&group.cn);
        let attr = group.kind.attribute();
        let before = slapd.members(&group.cn);
        let uid = group.members[1].clone();
        let stayer = group.members[0].clone();
        let value = match group.kind {
            GroupKind::Posix => uid.clone(),
            _ => slapd::person_dn(&uid),
        };
        assert!(before.contains(&value), "{before:?}");
        assert_eq!(
            ldap.is_present(&target(&uid, role)).await.expect("read"),
            Some(true)
        );

        let removal = ldap.remove(&target(&uid, role)).await.expect("remove");
        let receipt = format!("ldap:corp:delete {attr} {value} from {}", group.dn());
        assert_eq!(
            removal,
            Removal::Removed {
                receipt: receipt.clone()
            }
        );

        let after = slapd.members(&group.cn);
        let expected: Vec<String> = before.iter().filter(|v| **v != value).cloned().collect();
        assert_eq!(after, expected, "{}: only {value} is gone", group.cn);
        assert_eq!(
            ldap.is_present(&target(&uid, role)).await.expect("read"),
            Some(false)
        );
        assert_eq!(
            ldap.is_present(&target(&stayer, role)).await.expect("read"),
            Some(true)
        );

        let again = ldap
            .remove(&target(&uid, role))
            .await
            .expect("remove again");
        assert_eq!(again, Removal::AlreadyGone { receipt });
        assert_eq!(slapd.members(&group.cn), expected);
    }

    // A DN the group still names for someone no longer under the people base is removed too.
    let group = slapd.group("db-admins").clone();
    let ldap = connector(
        "corp",
        &config(&slapd, &env, SERVICE_DN, group.kind, &[&group.cn]),
    );
    let stale = "uid=former7,ou=alumni,dc=example,dc=com";
    assert!(slapd.members(&group.cn).contains(&stale.to_string()));
    assert_eq!(
        ldap.is_present(&target("former7", "Database Admin"))
            .await
            .expect("read"),
        Some(true)
    );
    let removal = ldap
        .remove(&target("former7", "Database Admin"))
        .await
        .expect("remove");
    assert!(matches!(removal, Removal::Removed { .. }), "{removal:?}");
    assert!(!slapd.members(&group.cn).contains(&stale.to_string()));
    let gone = ldap
        .remove(&target("former7", "Database Admin"))
        .await
        .expect("remove");
    assert!(
        matches!(&gone, Removal::AlreadyGone { receipt } if receipt.starts_with("ldap:corp:")),
        "{gone:?}"
    );

    // An account that may not write gets an error naming the permission, and nothing changes.
    let reader_env = password_env("remove_reader", READER_PASSWORD);
    let group = slapd.group("domain-admins").clone();
    let reader = connector(
        "corp",
        &config(&slapd, &reader_env, READER_DN, group.kind, &[&group.cn]),
    );
    let before = slapd.members(&group.cn);
    let e = reader
        .remove(&target(&group.members[0], "Domain Admin"))
        .await
        .expect_err("the reader may not write");
    assert_eq!(
        e.0,
        format!(
            "source corp: {READER_DN} may not write member of {} (grant it write access to that \
             attribute)",
            group.dn()
        )
    );
    assert_eq!(slapd.members(&group.cn), before);

    // A role no configured group grants is an error naming it, before any change.
    let e = ldap
        .remove(&target("u0002", "Printer Admin"))
        .await
        .expect_err("no group grants it");
    assert!(
        e.0.starts_with("source corp: ") && e.0.contains("Printer Admin"),
        "{e}"
    );
}

#[tokio::test]
async fn ldap_removing_the_last_member_of_a_group_of_names_is_a_clear_error() {
    if !crate::common::slapd::available(
        "ldap_removing_the_last_member_of_a_group_of_names_is_a_clear_error",
    ) {
        return;
    }
    let slapd = Slapd::start_with(
        3,
        vec![GroupSpec {
            cn: "domain-admins".into(),
            kind: GroupKind::Names,
            members: vec!["u0002".into()],
            others: vec![],
        }],
    );
    let env = password_env("last_member", SERVICE_PASSWORD);
    let ldap = connector(
        "corp",
        &config(
            &slapd,
            &env,
            SERVICE_DN,
            GroupKind::Names,
            &["domain-admins"],
        ),
    );
    let e = ldap
        .remove(&target("u0002", "Domain Admin"))
        .await
        .expect_err("slapd refuses an empty groupOfNames");
    assert!(e.0.starts_with("source corp: "), "{e}");
    assert!(e.0.contains("groupOfNames needs one"), "{e}");
    assert!(!e.0.contains('\n'), "{e}");
    assert_eq!(
        slapd.members("domain-admins"),
        vec![slapd::person_dn("u0002")]
    );
}

#[tokio::test]
async fn ldap_test_passes_for_the_service_account_and_changes_nothing() {
    let people = 150;
    if !crate::common::slapd::available(
        "ldap_test_passes_for_the_service_account_and_changes_nothing",
    ) {
        return;
    }
    let slapd = Slapd::start(people);
    let env = password_env("probe_ok", SERVICE_PASSWORD);
    for kind in [GroupKind::Names, GroupKind::UniqueNames, GroupKind::Posix] {
        let group = slapd
            .groups
            .iter()
            .find(|g| g.kind == kind)
            .expect("a group of each kind")
            .clone();
        let before = state(&slapd);
        let probe = connector(
            "corp",
            &config(&slapd, &env, SERVICE_DN, kind, &[&group.cn]),
        )
        .test()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state(&slapd), before, "test() changed the directory");
        assert_eq!(probe.people, Some(people as u64));
        assert_eq!(probe.eligibility, Some(group.members.len() as u64));
        let checks = probe.checks.join("\n");
        assert!(
            checks.contains(&format!("authenticated as {SERVICE_DN}")),
            "{checks}"
        );
        assert!(
            checks.contains(&format!("{people} people under {PEOPLE_BASE}")),
            "{checks}"
        );
        assert!(
            checks.contains(&format!(
                "{SERVICE_DN} may write {} of {}",
                kind.attribute(),
                group.dn()
            )),
            "{checks}"
        );
    }
}

#[tokio::test]
async fn ldap_test_names_what_is_wrong() {
    if !crate::common::slapd::available("ldap_test_names_what_is_wrong") {
        return;
    }
    let slapd = Slapd::start(10);
    let all = ["domain-admins"];
    let before = state(&slapd);

    // A wrong password: the message says so, names the variable and not the password.
    let env = password_env("probe_wrong_password", "Wrong-Password-123");
    let e = connector(
        "corp",
        &config(&slapd, &env, SERVICE_DN, GroupKind::Names, &all),
    )
    .test()
    .await
    .expect_err("wrong password");
    assert_eq!(
        e.0,
        format!(
            "source corp: the directory refused the bind as {SERVICE_DN}: invalid credentials \
             (check the password in ${env})"
        )
    );
    assert!(!e.0.contains("Wrong-Password-123"));

    // Nobody listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let env = password_env("probe_unreachable", SERVICE_PASSWORD);
    let mut unreachable = config(&slapd, &env, SERVICE_DN, GroupKind::Names, &all);
    unreachable.url = format!("ldap://127.0.0.1:{port}");
    let e = connector("corp", &unreachable)
        .test()
        .await
        .expect_err("unreachable");
    assert!(
        e.0.starts_with(&format!(
            "source corp: cannot reach ldap://127.0.0.1:{port}: "
        )),
        "{e}"
    );

    // An account that may read but not write: every group's write is checked, nothing changes.
    for group in slapd.groups.clone() {
        let env = password_env("probe_reader", READER_PASSWORD);
        let e = connector(
            "corp",
            &config(&slapd, &env, READER_DN, group.kind, &[&group.cn]),
        )
        .test()
        .await
        .expect_err("the reader may not write");
        assert_eq!(
            e.0,
            format!(
                "source corp: {READER_DN} may not write {} of {} (grant it write access to that \
                 attribute)",
                group.kind.attribute(),
                group.dn()
            )
        );
    }

    // A group that does not exist.
    let env = password_env("probe_missing_group", SERVICE_PASSWORD);
    let mut missing = config(&slapd, &env, SERVICE_DN, GroupKind::Names, &all);
    missing.groups[0].dn = slapd::group_dn("nope");
    let e = connector("corp", &missing)
        .test()
        .await
        .expect_err("missing group");
    assert_eq!(
        e.0,
        format!(
            "source corp: group {} does not exist",
            slapd::group_dn("nope")
        )
    );

    assert_eq!(state(&slapd), before, "test() changed the directory");
}

#[tokio::test]
async fn ldap_over_ldaps_and_starttls() {
    if !crate::common::slapd::available("ldap_over_ldaps_and_starttls") {
        return;
    }
    let slapd = Slapd::start(120);
    let env = password_env("tls", SERVICE_PASSWORD);
    let group = slapd.group("db-admins").clone();
    let plain = config(&slapd, &env, SERVICE_DN, group.kind, &[&group.cn]);

    let mut ldaps = plain.clone();
    ldaps.url = slapd.ldaps_url.clone();
    ldaps.tls_insecure = true;
    let mut starttls = plain.clone();
    starttls.starttls = true;
    starttls.tls_insecure = true;
    for config in [&ldaps, &starttls] {
        let snapshot = connector("corp", config)
            .snapshot()
            .await
            .unwrap_or_else(|e| panic!("{} starttls={}: {e}", config.url, config.starttls));
        assert_eq!(snapshot.people.len(), 120);
        assert_eq!(snapshot.eligibility.len(), group.members.len());
        let probe = connector("corp", config).test().await.expect("test");
        let how = if config.starttls {
            "(StartTLS)"
        } else {
            "(TLS)"
        };
        assert!(probe.checks[0].ends_with(how), "{:?}", probe.checks);
    }

    // The self-signed certificate is refused unless tls_insecure says otherwise.
    for mut config in [ldaps, starttls] {
        config.tls_insecure = false;
        let e = connector("corp", &config)
            .snapshot()
            .await
            .expect_err("an untrusted certificate is refused");
        assert!(
            e.0.starts_with(&format!(
                "source corp: the TLS handshake with {} failed: ",
                config.url
            )),
            "{e}"
        );
        assert!(e.0.contains("tls_insecure = true"), "{e}");
        assert!(!e.0.contains('\n'), "{e}");
    }
}
