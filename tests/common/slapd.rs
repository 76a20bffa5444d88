//! A real OpenLDAP slapd for tests, started on a free port with its own configuration and data.
//!
//! Every [`Slapd`] lives in its own temporary folder: an old-style `slapd.conf` (the Debian
//! schemas, back-mdb, ACLs for a service account that may write group membership and a reader
//! that may not), a self-signed certificate for `ldaps://` and StartTLS, and a database loaded
//! with `slapadd` before the server starts (much faster than adding hundreds of people over the
//! wire). slapd runs in the foreground (`-d 0`) as a child and is killed on drop, so tests run in
//! parallel, each with its own server.
//!
//! The directory refuses to return more than [`SIZE_LIMIT`] entries to a plain search but allows
//! any number through paged results, as Active Directory and most production directories do; a
//! connector that does not page sees only part of the people.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BASE: &str = "dc=example,dc=com";
pub const PEOPLE_BASE: &str = "ou=people,dc=example,dc=com";
pub const GROUPS_BASE: &str = "ou=groups,dc=example,dc=com";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=com";
pub const ADMIN_PASSWORD: &str = "admin-secret";
/// The account attest binds as: reads everything, writes group membership.
pub const SERVICE_DN: &str = "cn=attest,ou=services,dc=example,dc=com";
pub const SERVICE_PASSWORD: &str = "attest-Secret-42";
/// An account that may read everything and write nothing.
pub const READER_DN: &str = "cn=reader,ou=services,dc=example,dc=com";
pub const READER_PASSWORD: &str = "reader-Secret-42";
/// The most entries one search without paging returns.
pub const SIZE_LIMIT: usize = 100;
/// A member value of every groupOfNames that is nobody (groupOfNames needs one member).
pub const PLACEHOLDER_DN: &str = "cn=placeholder,ou=groups,dc=example,dc=com";

/// How a group lists its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// `groupOfNames`, `member` DNs.
    Names,
    /// `groupOfUniqueNames`, `uniqueMember` DNs.
    UniqueNames,
    /// `posixGroup`, `memberUid` uids.
    Posix,
}

impl GroupKind {
    /// The attribute that holds the members.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Names => "member",
            Self::UniqueNames => "uniqueMember",
            Self::Posix => "memberUid",
        }
    }
}

/// A group to create: its members are people (by uid); `others` are further raw values that are
/// not people (a DN outside the people base, a uid nobody has).
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub cn: String,
    pub kind: GroupKind,
    pub members: Vec<String>,
    pub others: Vec<String>,
}

impl GroupSpec {
    pub fn dn(&self) -> String {
        group_dn(&self.cn)
    }
}

/// `u0001`, `u0002`, …
pub fn uid(i: usize) -> String {
    format!("u{i:04}")
}

pub fn person_dn(uid: &str) -> String {
    format!("uid={uid},{PEOPLE_BASE}")
}

pub fn group_dn(cn: &str) -> String {
    format!("cn={cn},{GROUPS_BASE}")
}

/// The manager of person `i` as the directory stores it: none for u0001; a DN outside the
/// people for every 50th (someone who left); otherwise person `i / 2`, so the people form a
/// tree under u0001. Every third DN is written in capitals with spaces after the commas, as
/// hand-edited directories have them.
pub fn manager_dn(i: usize) -> Option<String> {
    if i <= 1 {
        return None;
    }
    if i % 50 == 0 {
        return Some(format!("uid=former{i},ou=alumni,{BASE}"));
    }
    let dn = person_dn(&uid(i / 2));
    if i % 3 == 0 {
        Some(dn.to_uppercase().replace(',', ", "))
    } else {
        Some(dn)
    }
}

/// The uid of person `i`'s manager when that manager is one of the people.
pub fn manager_uid(i: usize) -> Option<String> {
    (i > 1 && i % 50 != 0).then(|| uid(i / 2))
}

/// Three groups, one of each kind, with a few dozen deterministic members each of `people`,
/// plus values that are not people.
pub fn default_groups(people: usize) -> Vec<GroupSpec> {
    let pick = |step: usize, from: usize| -> Vec<String> {
        (from..=people).step_by(step).map(uid).collect()
    };
    vec![
        GroupSpec {
            cn: "domain-admins".into(),
            kind: GroupKind::Names,
            members: pick(9, 3),
            others: vec![PLACEHOLDER_DN.into(), SERVICE_DN.into()],
        },
        GroupSpec {
            cn: "db-admins".into(),
            kind: GroupKind::UniqueNames,
            members: pick(11, 2),
            others: vec![format!("uid=former7,ou=alumni,{BASE}")],
        },
        GroupSpec {
            cn: "backup-ops".into(),
            kind: GroupKind::Posix,
            members: pick(13, 5),
            others: vec!["nobody-here".into()],
        },
    ]
}

/// The OpenLDAP programs these tests run (Debian's `slapd` and `ldap-utils`, and `openssl` for
/// the certificate).
const PROGRAMS: &[&str] = &[
    "slapd",
    "slapadd",
    "ldapsearch",
    "ldapadd",
    "ldapmodify",
    "openssl",
];

/// Whether `test` can start a [`Slapd`]: locally a missing program skips the test (saying
/// `SKIPPED`); under CI it fails with the install command, like the mail and browser tests.
pub fn available(test: &str) -> bool {
    let on_path = |name: &&str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
    };
    let missing: Vec<&str> = PROGRAMS.iter().filter(|p| !on_path(p)).copied().collect();
    super::smtp::require(
        test,
        &format!("{} (from slapd and ldap-utils)", missing.join(", ")),
        missing.is_empty(),
    )
}

/// A running slapd; killed on drop.
pub struct Slapd {
    pub port: u16,
    pub tls_port: u16,
    /// `ldap://127.0.0.1:PORT`
    pub url: String,
    /// `ldaps://127.0.0.1:TLS_PORT`
    pub ldaps_url: String,
    pub base: String,
    pub people: usize,
    pub groups: Vec<GroupSpec>,
    dir: tempfile::TempDir,
    child: Child,
}

impl Slapd {
    /// `people` people and the [`default_groups`].
    pub fn start(people: usize) -> Slapd {
        Self::start_with(people, default_groups(people))
    }

    pub fn start_with(people: usize, groups: Vec<GroupSpec>) -> Slapd {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("slapd.conf");
        std::fs::create_dir(dir.path().join("db")).expect("db dir");
        std::fs::write(&conf, config(dir.path())).expect("write slapd.conf");
        certificate(dir.path());
        let ldif = dir.path().join("data.ldif");
        std::fs::write(&ldif, data(people, &groups)).expect("write data.ldif");
        let out = Command::new("slapadd")
            .arg("-q")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .output()
            .expect("run slapadd");
        assert!(
            out.status.success(),
            "slapadd failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Free ports come from binding port 0; another test may take one between our probe and
        // slapd's bind, so a server that exits at once is started again on other ports.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let tls_port = free_port();
            if port == tls_port {
                continue;
            }
            let log_path = dir.path().join("slapd.log");
            let log = std::fs::File::create(&log_path).expect("slapd log");
            let mut child = Command::new("slapd")
                .arg("-f")
                .arg(&conf)
                .arg("-h")
                .arg(format!(
                    "ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
                ))
                .arg("-d")
                .arg("0")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("start slapd");
            if wait_until_listening(&mut child, &[port, tls_port]) {
                return Slapd {
                    port,
                    tls_port,
                    url: format!("ldap://127.0.0.1:{port}"),
                    ldaps_url: format!("ldaps://127.0.0.1:{tls_port}"),
                    base: BASE.to_string(),
                    people,
                    groups,
                    dir,
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("slapd did not start:\n{last_log}");
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn group(&self, cn: &str) -> &GroupSpec {
        self.groups
            .iter()
            .find(|g| g.cn == cn)
            .unwrap_or_else(|| panic!("no group {cn}"))
    }

    /// Runs the real `ldapsearch`, bound as the admin; returns its LDIF (lines not wrapped).
    pub fn ldapsearch(&self, base: &str, scope: &str, filter: &str, attrs: &[&str]) -> String {
        let out = Command::new("ldapsearch")
            .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-H", &self.url])
            .args(["-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
            .args(["-b", base, "-s", scope, filter])
            .args(attrs)
            .output()
            .expect("run ldapsearch");
        assert!(
            out.status.success(),
            "ldapsearch -b {base} {filter} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the real `ldapsearch` (no paging) bound as `dn`; returns its exit code and output.
    pub fn ldapsearch_as(
        &self,
        dn: &str,
        password: &str,
        base: &str,
        filter: &str,
    ) -> (i32, String) {
        let out = Command::new("ldapsearch")
            .args(["-x", "-LLL", "-H", &self.url, "-D", dn, "-w", password])
            .args(["-b", base, filter, "1.1"])
            .output()
            .expect("run ldapsearch");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// The values of `attr` of the entry `dn`, as `ldapsearch` prints them.
    pub fn values(&self, dn: &str, attr: &str) -> Vec<String> {
        let prefix = format!("{}: ", attr.to_ascii_lowercase());
        self.ldapsearch(dn, "base", "(objectClass=*)", &[attr])
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].to_string())
            .collect()
    }

    /// Every member value of the group `cn` (whatever its kind), sorted.
    pub fn members(&self, cn: &str) -> Vec<String> {
        let group = self.group(cn);
        let mut values = self.values(&group.dn(), group.kind.attribute());
        values.sort();
        values
    }

    /// The operational `modifyTimestamp` and `entryCSN` of `dn`: they change on any write.
    pub fn stamp(&self, dn: &str) -> String {
        self.ldapsearch(
            dn,
            "base",
            "(objectClass=*)",
            &["modifyTimestamp", "entryCSN"],
        )
    }

    /// Adds entries (LDIF) as the admin with the real `ldapadd`.
    pub fn ldapadd(&self, ldif: &str) {
        let path = self.dir.path().join("add.ldif");
        std::fs::write(&path, ldif).expect("write ldif");
        let out = Command::new("ldapadd")
            .args(["-x", "-H", &self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD])
            .arg("-f")
            .arg(&path)
            .output()
            .expect("run ldapadd");
        assert!(
            out.status.success(),
            "ldapadd failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Waits (up to 10 s) until every port accepts; false when slapd exited or never listened.
fn wait_until_listening(child: &mut Child, ports: &[u16]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        if ports
            .iter()
            .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// A self-signed P-256 certificate for 127.0.0.1 (fast to generate, and rustls takes it).
fn certificate(dir: &Path) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn config(dir: &Path) -> String {
    let path = |name: &str| -> PathBuf { dir.join(name) };
    format!(
        r#"include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {pid}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}

database mdb
suffix "{BASE}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {db}
maxsize 67108864
sizelimit size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited

access to attrs=userPassword
  by anonymous auth
  by * none
access to dn.subtree="{GROUPS_BASE}" attrs=member,uniqueMember,memberUid
  by dn.exact="{SERVICE_DN}" write
  by users read
access to *
  by users read
"#,
        pid = path("slapd.pid").display(),
        cert = path("cert.pem").display(),
        key = path("key.pem").display(),
        db = path("db").display(),
    )
}

fn data(people: usize, groups: &[GroupSpec]) -> String {
    let mut ldif = format!(
        "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: {PEOPLE_BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: {GROUPS_BASE}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: {SERVICE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\n\
         cn: attest\nuserPassword: {SERVICE_PASSWORD}\n\n\
         dn: {READER_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\n\
         cn: reader\nuserPassword: {READER_PASSWORD}\n\n"
    );
    for i in 1..=people {
        let uid = uid(i);
        ldif.push_str(&format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Person {i}\nsn: {i}\n\
             mail: {uid}@example.com\n",
            person_dn(&uid)
        ));
        if let Some(manager) = manager_dn(i) {
            ldif.push_str(&format!("manager: {manager}\n"));
        }
        ldif.push('\n');
    }
    for (n, group) in groups.iter().enumerate() {
        let attr = group.kind.attribute();
        ldif.push_str(&format!("dn: {}\ncn: {}\n", group.dn(), group.cn));
        match group.kind {
            GroupKind::Names => ldif.push_str("objectClass: groupOfNames\n"),
            GroupKind::UniqueNames => ldif.push_str("objectClass: groupOfUniqueNames\n"),
            GroupKind::Posix => ldif.push_str(&format!(
                "objectClass: posixGroup\ngidNumber: {}\n",
                5000 + n
            )),
        }
        for member in &group.members {
            let value = match group.kind {
                GroupKind::Posix => member.clone(),
                _ => person_dn(member),
            };
            ldif.push_str(&format!("{attr}: {value}\n"));
        }
        for other in &group.others {
            ldif.push_str(&format!("{attr}: {other}\n"));
        }
        ldif.push('\n');
    }
    ldif
}
