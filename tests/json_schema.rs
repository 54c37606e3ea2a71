//! Issue 14: the JSON lines are a contract. Every line of `--json` and `-v --json` over every
//! capture in `captures/` validates against `docs/schema/ike-sniff.schema.json` (every field
//! documented there, no other allowed), and every line has `type` first.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            captures(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng" | "cap")
        ) {
            out.push(p);
        }
    }
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/schema/ike-sniff.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema is valid JSON Schema")
}

#[test]
fn every_line_of_every_capture_validates() {
    let validator = schema();
    let mut files = Vec::new();
    captures(&root().join("captures"), &mut files);
    assert!(files.len() > 200);
    let mut types = std::collections::BTreeSet::new();
    let mut lines = 0;
    for path in &files {
        for args in [&["--json"][..], &["-v", "--json"]] {
            let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
                .arg("-r")
                .arg(path)
                .args(args)
                .output()
                .unwrap();
            for line in String::from_utf8(out.stdout).unwrap().lines() {
                assert!(
                    line.starts_with("{\"type\":\""),
                    "{} {args:?}: type is not first: {line}",
                    path.display()
                );
                let v: Value = serde_json::from_str(line).unwrap();
                let errors: Vec<String> = validator
                    .iter_errors(&v)
                    .map(|e| format!("{} at {}", e, e.instance_path()))
                    .take(3)
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{} {args:?}: {errors:?}\n{line}",
                    path.display()
                );
                types.insert(v["type"].as_str().unwrap().to_string());
                lines += 1;
            }
        }
    }
    assert!(lines > 5_000, "{lines}");
    for t in ["meta", "packet", "finding", "verdict", "tunnel", "summary"] {
        assert!(types.contains(t), "no {t} line");
    }
}

/// The schema turns away what the program must not write: an undocumented field, a line
/// without its type, a wrong schema version.
#[test]
fn the_schema_is_strict() {
    let validator = schema();
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(["-r", "captures/public/tcpdump/ikev2four.pcap", "--json"])
        .current_dir(root())
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for line in &lines {
        assert!(validator.is_valid(line));
        let mut extra = line.clone();
        extra["undocumented"] = Value::Bool(true);
        assert!(!validator.is_valid(&extra), "{line}");
        let mut untyped = line.clone();
        untyped.as_object_mut().unwrap().remove("type");
        assert!(!validator.is_valid(&untyped), "{line}");
    }
    let mut meta = lines[0].clone();
    assert_eq!(meta["schema_version"], 2);
    meta["schema_version"] = Value::from(1);
    assert!(!validator.is_valid(&meta));
    // A packet line must carry one body.
    let mut bodiless = lines[1].clone();
    bodiless.as_object_mut().unwrap().remove("ike");
    assert!(!validator.is_valid(&bodiless));
}

/// With `--keys` the lines carry what decryption revealed (`ike.decrypted`, `esp.decrypted`,
/// the summary's decryption counters): every keyed capture's lines validate too.
#[test]
fn decrypted_lines_validate() {
    let validator = schema();
    let keyed = std::fs::read_to_string(root().join("tests/tshark/keyed.tsv")).unwrap();
    let mut decrypted = 0;
    for l in keyed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = l.split('\t').collect();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ike-sniff"));
        cmd.arg("-r").arg(root().join("captures").join(f[0]));
        cmd.args(["-v", "--json"]);
        for k in f[2].split(',') {
            cmd.arg("--keys").arg(root().join("captures").join(k));
        }
        let out = cmd.output().unwrap();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&v)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .take(3)
                .collect();
            assert!(errors.is_empty(), "{}: {errors:?}\n{line}", f[0]);
            if line.contains("\"decrypted\":{") {
                decrypted += 1;
            }
        }
    }
    assert!(decrypted > 300, "{decrypted}");
}
