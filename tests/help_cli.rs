//! Issue 14: `--help` shows examples and exit statuses; `--generate` prints a man page that
//! `man -l` renders and completion scripts, the bash one of which loads and completes.

use std::io::Write;
use std::process::{Command, Stdio};

fn ike_sniff(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("help-{}-{name}", std::process::id()))
}

#[test]
fn help_has_examples_and_exit_statuses() {
    let out = ike_sniff(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "Examples:",
        "ike-sniff -r vpn.pcap host 203.0.113.5",
        "Exit status:",
        "  3  --fail-on",
        "--generate <WHAT>",
        "FortiGate `diagnose sniffer packet`",
    ] {
        assert!(text.contains(want), "{want}");
    }
}

#[test]
fn the_man_page_renders() {
    let out = ike_sniff(&["--generate", "man"]);
    assert!(out.status.success());
    let page = tmp("ike-sniff.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let man = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man is installed (.ci/run installs man-db)");
    let _ = std::fs::remove_file(&page);
    let err = String::from_utf8_lossy(&man.stderr);
    assert!(man.status.success(), "{err}");
    assert!(err.trim().is_empty(), "warnings from man: {err}");
    let text = String::from_utf8_lossy(&man.stdout);
    for want in ["NAME", "SYNOPSIS", "ike-sniff", "--fail-on", "Exit status:"] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
}

#[test]
fn bash_completion_loads_and_completes() {
    let out = ike_sniff(&["--generate", "bash"]);
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    let probe = r#"
source /dev/stdin
complete -p ike-sniff || exit 9
COMP_WORDS=(ike-sniff --fail); COMP_CWORD=1
_ike__sniff ike-sniff --fail ike-sniff
echo "options: ${COMPREPLY[*]}"
COMP_WORDS=(ike-sniff --fail-on ""); COMP_CWORD=2
_ike__sniff ike-sniff "" --fail-on
echo "values: ${COMPREPLY[*]}"
"#;
    let mut bash = Command::new("bash")
        .args(["--norc", "-c", probe])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bash.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = bash.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("options: --fail-on"), "{text}");
    assert!(text.contains("values: error warning info"), "{text}");
}

#[test]
fn zsh_and_fish_scripts_name_the_options() {
    for (shell, marker) in [
        ("zsh", "#compdef ike-sniff"),
        ("fish", "complete -c ike-sniff"),
    ] {
        let out = ike_sniff(&["--generate", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}");
        assert!(text.contains("fail-on"), "{shell}");
    }
    assert_eq!(ike_sniff(&["--generate", "tcsh"]).status.code(), Some(2));
}
