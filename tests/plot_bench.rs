//! `scripts/plot-bench.py` on real `attest bench --json` reports of two sizes: an SVG with a
//! line per stage through both sizes, and the growth check that flags a stage growing faster
//! than allowed per tenfold items (issue 18's "linear, not worse"); close + remediation as its
//! two halves, the removals judged against the number of removals.

use std::path::Path;
use std::process::Command;

fn bench(dir: &Path, items: &str) -> std::path::PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(["bench", "--items", items, "--decisions", "50", "--json"])
        .current_dir(dir)
        .env("ATTEST_LOG", "warn")
        .output()
        .expect("run attest bench");
    assert!(
        out.status.success(),
        "attest bench --items {items}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join(format!("bench-{items}.json"));
    std::fs::write(&path, &out.stdout).expect("write the report");
    path
}

fn plot(dir: &Path, reports: &[&Path], limit: &str) -> (i32, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/plot-bench.py");
    let svg = dir.join("scaling.svg");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&svg)
        .args(reports)
        .args(["--limit", limit])
        .output()
        .expect("run python3");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        std::fs::read_to_string(&svg).unwrap_or_default(),
    )
}

#[test]
fn the_plot_script_draws_every_stage_and_checks_its_growth() {
    let dir = tempfile::tempdir().expect("temp dir");
    let small = bench(dir.path(), "1000");
    let large = bench(dir.path(), "10000");

    // A limit no real stage meets: every stage is flagged, the script fails.
    let (code, table, svg) = plot(dir.path(), &[&small, &large], "0.5");
    assert_eq!(code, 1, "{table}");
    for stage in [
        "import eligibility",
        "launch",
        "close",
        "removals",
        "evidence export",
    ] {
        assert!(
            svg.contains(&format!("data-stage=\"{stage}\"")),
            "no line for {stage} in the SVG"
        );
        let line = table
            .lines()
            .find(|l| l.contains(stage))
            .unwrap_or_else(|| panic!("no growth line for {stage}: {table}"));
        assert!(line.contains("1,000 ->     10,000"), "{line}");
        assert!(line.contains("OVER"), "{line}");
    }
    assert!(
        !svg.contains("data-stage=\"close + remediation\""),
        "close + remediation is drawn as its two halves"
    );
    // Each line runs through both sizes.
    let points = svg
        .split("<polyline")
        .skip(1)
        .map(|p| {
            p.split("points=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map_or(0, |coords| coords.split_whitespace().count())
        })
        .collect::<Vec<_>>();
    assert!(
        !points.is_empty() && points.iter().all(|n| *n == 2),
        "{points:?}"
    );
    assert!(
        !svg.contains("data-stage=\"decisions"),
        "paced stages are not plotted"
    );

    // A size whose decisions left no removals is not compared with one that has some: the
    // removals are other work, not the same work grown.
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&small).expect("read")).expect("json");
    report["close_split"]["removals"] = serde_json::json!(0);
    let none = dir.path().join("bench-1000-no-removals.json");
    std::fs::write(&none, report.to_string()).expect("write");
    let (_, table, _) = plot(dir.path(), &[&none, &large], "0.5");
    let line = table
        .lines()
        .find(|l| l.contains(" removals "))
        .unwrap_or_else(|| panic!("no growth line for the removals: {table}"));
    assert!(line.contains("not compared"), "{line}");
    assert!(!line.contains("OVER"), "{line}");

    // A report that is not one: a clear error naming the file.
    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, "{\"items\": 5}").expect("write");
    let (code, _, _) = plot(dir.path(), &[&bogus], "12");
    assert_ne!(code, 0);
}
