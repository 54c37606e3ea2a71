//! Runs every capture listed in `captures/MANIFEST.toml` (lab captures, made by the capture-lab
//! helper) and `captures/public/MANIFEST.toml` (public captures) through the analyzer and checks
//! that each `expect` kind is reported and no `forbid` kind is.
//!
//! A manifest that does not exist yet is skipped; the test fails if neither exists.
//! `IKE_SNIFF_MANIFEST=path` adds another manifest (paths in it are relative to its folder's
//! parent `captures/`-style root: the folder holding the manifest).

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    capture: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    file: String,
    #[serde(default)]
    scenario: String,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default)]
    forbid: Vec<String>,
}

/// (manifest path, root its `file` entries are relative to).
fn manifests() -> Vec<(PathBuf, PathBuf)> {
    let captures = support::root().join("captures");
    let mut v = vec![
        (captures.join("MANIFEST.toml"), captures.clone()),
        (captures.join("public/MANIFEST.toml"), captures.clone()),
    ];
    if let Ok(extra) = std::env::var("IKE_SNIFF_MANIFEST") {
        let p = PathBuf::from(extra);
        let root = p.parent().map(Path::to_path_buf).unwrap_or_default();
        v.push((p, root));
    }
    v
}

fn check(manifest: &Path, root: &Path, failures: &mut Vec<String>) -> usize {
    let text = std::fs::read_to_string(manifest).expect("manifest readable");
    let m: Manifest =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    for c in &m.capture {
        let path = root.join(&c.file);
        if !path.exists() {
            failures.push(format!("{}: {} does not exist", manifest.display(), c.file));
            continue;
        }
        let run = support::analyze(&path);
        let kinds = run.kinds();
        let known: Vec<&str> = ike_sniff::diagnose::catalogue()
            .iter()
            .map(|k| k.id)
            .collect();
        for k in c.expect.iter().chain(c.forbid.iter()) {
            if !known.contains(&k.as_str()) {
                failures.push(format!(
                    "{} ({}): unknown finding kind {k}",
                    c.file, c.scenario
                ));
            }
        }
        for k in &c.expect {
            if !kinds.contains(&k.as_str()) {
                failures.push(format!(
                    "{} ({}): expected {k}, got {kinds:?}\n{}",
                    c.file,
                    c.scenario,
                    run.describe()
                ));
            }
        }
        for k in &c.forbid {
            if kinds.contains(&k.as_str()) {
                failures.push(format!(
                    "{} ({}): forbidden {k} reported\n{}",
                    c.file,
                    c.scenario,
                    run.describe()
                ));
            }
        }
    }
    m.capture.len()
}

#[test]
fn manifests_hold() {
    let mut failures = Vec::new();
    let mut found = 0;
    let mut checked = 0;
    for (m, root) in manifests() {
        if !m.exists() {
            eprintln!("skipping {} (not there yet)", m.display());
            continue;
        }
        found += 1;
        checked += check(&m, &root, &mut failures);
    }
    assert!(
        found > 0,
        "neither captures/MANIFEST.toml nor captures/public/MANIFEST.toml exists"
    );
    assert!(checked > 0, "the manifests list no captures");
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
