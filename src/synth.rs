//! A synthetic organisation written as import files: people in a manager tree, the usual
//! privileged roles with risk tiers, break-glass and service accounts, and eligibility with
//! activation history. `attest demo` seeds one; `attest bench` measures at scale with one.
//! Deterministic for a seed, so runs are comparable.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// The size and shape of the organisation.
#[derive(Debug, Clone)]
pub struct OrgSpec {
    pub people: usize,
    pub eligibilities: usize,
    pub seed: u64,
}

impl OrgSpec {
    /// N eligibilities over N/10 people (at least 50), as the benchmark specifies.
    pub fn with_eligibilities(n: usize) -> Self {
        Self {
            people: (n / 10).max(50),
            eligibilities: n,
            seed: 7,
        }
    }
}

/// Where the generated files are.
#[derive(Debug, Clone)]
pub struct OrgFiles {
    pub people: PathBuf,
    pub roles: PathBuf,
    pub eligibility: PathBuf,
}

/// Roles as Entra ID names them, with the tier a reviewer would give them.
const ROLES: &[(&str, &str)] = &[
    ("Global Administrator", "high"),
    ("Privileged Role Administrator", "high"),
    ("Privileged Authentication Administrator", "high"),
    ("Security Administrator", "high"),
    ("Conditional Access Administrator", "high"),
    ("Application Administrator", "high"),
    ("Cloud Application Administrator", "high"),
    ("Hybrid Identity Administrator", "high"),
    ("Exchange Administrator", "high"),
    ("SharePoint Administrator", "high"),
    ("Intune Administrator", "high"),
    ("Authentication Policy Administrator", "high"),
    ("Owner (Azure subscription)", "high"),
    ("User Access Administrator (Azure)", "high"),
    ("Key Vault Administrator", "high"),
    ("User Administrator", "medium"),
    ("Groups Administrator", "medium"),
    ("Helpdesk Administrator", "medium"),
    ("Authentication Administrator", "medium"),
    ("Billing Administrator", "medium"),
    ("Teams Administrator", "medium"),
    ("License Administrator", "medium"),
    ("Compliance Administrator", "medium"),
    ("Security Operator", "medium"),
    ("Contributor (Azure subscription)", "medium"),
    ("Password Administrator", "medium"),
    ("Directory Writers", "medium"),
    ("Attribute Assignment Administrator", "medium"),
    ("Global Reader", "low"),
    ("Security Reader", "low"),
    ("Reports Reader", "low"),
    ("Message Center Reader", "low"),
    ("Directory Readers", "low"),
    ("Reader (Azure subscription)", "low"),
    ("Usage Summary Reports Reader", "low"),
];

const FIRST: &[&str] = &[
    "Ana", "Ben", "Chloé", "Deniz", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kavya",
    "Lars", "Maëlle", "Nikolai", "Olu", "Priya", "Quinn", "Rafael", "Søren", "Tamar", "Uma",
    "Viktor", "Wen", "Ximena", "Yusuf", "Zoë",
];
const LAST: &[&str] = &[
    "Andersen",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fischer",
    "García",
    "Hansen",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Müller",
    "Novák",
    "O'Brien",
    "Petrov",
    "Quist",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Umarov",
    "Virtanen",
    "Weber",
    "Yılmaz",
    "Zhou",
];
const ZONES: &[&str] = &[
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/Paris",
];

/// How many break-glass accounts every organisation keeps.
pub const BREAK_GLASS: usize = 2;

/// Writes `people.csv`, `roles.csv` and `eligibility.csv` into `dir`, streaming every row.
pub fn write_org(spec: &OrgSpec, dir: &Path, now: DateTime<Utc>) -> io::Result<OrgFiles> {
    let files = OrgFiles {
        people: dir.join("people.csv"),
        roles: dir.join("roles.csv"),
        eligibility: dir.join("eligibility.csv"),
    };
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let people = spec.people.max(BREAK_GLASS + 2);
    write_people(&files.people, people, &mut rng)?;
    write_roles(&files.roles, people, &mut rng)?;
    write_eligibility(
        &files.eligibility,
        people,
        spec.eligibilities,
        now,
        &mut rng,
    )?;
    Ok(files)
}

fn csv_writer(path: &Path) -> io::Result<csv::Writer<BufWriter<File>>> {
    Ok(csv::Writer::from_writer(BufWriter::with_capacity(
        256 * 1024,
        File::create(path)?,
    )))
}

fn person_id(i: usize) -> String {
    format!("p{i:07}")
}

fn break_glass_id(i: usize) -> String {
    format!("breakglass{}", i + 1)
}

fn write_people(path: &Path, people: usize, rng: &mut StdRng) -> io::Result<()> {
    let mut w = csv_writer(path)?;
    w.write_record([
        "id",
        "name",
        "email",
        "manager_id",
        "kind",
        "enabled",
        "timezone",
    ])?;
    // A manager tree: everyone reports to someone hired before them, each manager having 5–12 reports.
    let mut managers: std::collections::VecDeque<(usize, usize)> =
        std::collections::VecDeque::new();
    let regular = people - BREAK_GLASS;
    for i in 0..regular {
        let manager = match managers.front_mut() {
            Some((m, left)) => {
                let m = *m;
                *left -= 1;
                if *left == 0 {
                    managers.pop_front();
                }
                person_id(m)
            }
            None => String::new(),
        };
        managers.push_back((i, rng.random_range(5..=12)));
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let service = i > 0 && rng.random_ratio(1, 50);
        let (name, kind) = if service {
            (format!("svc-automation-{i}"), "service")
        } else {
            (format!("{first} {last}"), "user")
        };
        let email = format!("{}.{}@example.test", ascii(first), i);
        let enabled = if i > 0 && rng.random_ratio(1, 100) {
            "false"
        } else {
            "true"
        };
        let zone = ZONES[rng.random_range(0..ZONES.len())];
        w.write_record([
            person_id(i).as_str(),
            &name,
            &email,
            &manager,
            kind,
            enabled,
            zone,
        ])?;
    }
    for b in 0..BREAK_GLASS {
        let id = break_glass_id(b);
        let name = format!("Emergency access {}", b + 1);
        let email = format!("{id}@example.test");
        w.write_record([id.as_str(), &name, &email, "", "break_glass", "true", ""])?;
    }
    w.flush()
}

fn ascii(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_lowercase()
}

fn write_roles(path: &Path, people: usize, rng: &mut StdRng) -> io::Result<()> {
    let mut w = csv_writer(path)?;
    w.write_record(["name", "owner_id", "risk", "description"])?;
    // Owners come from the top of the tree: the people hired first.
    let senior = (people - BREAK_GLASS).clamp(1, 40);
    for (name, risk) in ROLES {
        let owner = person_id(rng.random_range(0..senior));
        w.write_record([
            *name,
            &owner,
            risk,
            &format!("Eligible members can activate {name}"),
        ])?;
    }
    w.flush()
}

/// The roles the generated files define.
pub fn role_names() -> impl Iterator<Item = &'static str> {
    ROLES.iter().map(|(name, _)| *name)
}

fn write_eligibility(
    path: &Path,
    people: usize,
    n: usize,
    now: DateTime<Utc>,
    rng: &mut StdRng,
) -> io::Result<()> {
    let mut w = csv_writer(path)?;
    w.write_record([
        "principal_id",
        "role",
        "scope",
        "start",
        "end",
        "last_activated_at",
    ])?;
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut written = 0;
    for b in 0..BREAK_GLASS.min(n) {
        w.write_record([
            break_glass_id(b).as_str(),
            ROLES[0].0,
            "/",
            "2024-01-01",
            "",
            "",
        ])?;
        written += 1;
    }
    let regular = people - BREAK_GLASS;
    // Row k gives person k % regular their (k / regular)-th role, offset per person; past the
    // role count the same pairs repeat on subscription scopes, so every row stays unique.
    let mut k = 0usize;
    while written < n {
        let person = k % regular;
        let round = k / regular;
        let role = ROLES[(round + person * 7) % ROLES.len()].0;
        let scope = match round / ROLES.len() {
            0 => "/".to_string(),
            s => format!("/subscriptions/sub-{s:03}"),
        };
        let start = now - Duration::days(rng.random_range(30..1100));
        let activated = if rng.random_ratio(3, 10) {
            String::new()
        } else {
            stamp(now - Duration::minutes(rng.random_range(60..(365 * 24 * 60))))
        };
        let end = if rng.random_ratio(1, 20) {
            stamp(now + Duration::days(rng.random_range(30..365)))
        } else {
            String::new()
        };
        w.write_record([
            person_id(person).as_str(),
            role,
            &scope,
            &stamp(start),
            &end,
            &activated,
        ])?;
        written += 1;
        k += 1;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_have_the_requested_rows_and_unique_keys() {
        let dir = tempfile::tempdir().unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-26T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let files = write_org(
            &OrgSpec {
                people: 60,
                eligibilities: 2500,
                seed: 1,
            },
            dir.path(),
            now,
        )
        .unwrap();
        let mut keys = std::collections::HashSet::new();
        let mut reader = csv::Reader::from_path(&files.eligibility).unwrap();
        for row in reader.records() {
            let row = row.unwrap();
            assert!(keys.insert((row[0].to_string(), row[1].to_string(), row[2].to_string())));
        }
        assert_eq!(keys.len(), 2500);
        let people = csv::Reader::from_path(&files.people)
            .unwrap()
            .records()
            .count();
        assert_eq!(people, 60);
    }
}
