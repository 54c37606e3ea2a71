//! Strings a peer chooses, carried by real packets in a capture, never reach the operator raw
//! (issue 13): an IKEv1 Aggressive Mode ID (cleartext) and an IKEv2 REDIRECT gateway name
//! carrying terminal escapes (ESC ] 0 ; … BEL retitles the terminal, ESC [ 2 J clears it),
//! a newline followed by a finding line, invalid UTF-8, C1 controls and bidi overrides. In text,
//! `-v`, `--json` and `-v --json`, on standard output and standard error: valid UTF-8, no
//! control character but the line ends, no bidi formatting character, no forged finding line,
//! and the hostile bytes shown escaped rather than dropped.

use std::process::Command;

#[path = "support/hostile.rs"]
mod hostile;

use hostile::{dangerous, hostile_capture};

fn check_clean(what: &str, bytes: &[u8]) -> String {
    let text =
        String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| panic!("{what}: not UTF-8: {e}"));
    if let Some(c) = text.chars().find(|&c| dangerous(c)) {
        panic!("{what}: raw U+{:04X} in the output:\n{text}", c as u32);
    }
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("ERROR [auth_failed] forged"),
            "{what}: forged finding line: {line}"
        );
        assert!(
            !line.trim_start().starts_with("do:      \\x1b"),
            "{what}: {line}"
        );
    }
    text
}

#[test]
fn hostile_ids_and_gateway_names_are_escaped_in_every_output() {
    let path = hostile_capture("file");
    for args in [&[][..], &["-v"], &["--json"], &["-v", "--json"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
            .args(args)
            .arg("-r")
            .arg(&path)
            .output()
            .unwrap();
        let what = format!("ike-sniff {args:?}");
        assert_eq!(out.status.code(), Some(0), "{what}");
        let stdout = check_clean(&what, &out.stdout);
        check_clean(&format!("{what} (stderr)"), &out.stderr);
        let json = args.contains(&"--json");
        if json {
            for line in stdout.lines() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{what}: not one JSON object a line: {e}: {line}"));
                assert!(v.is_object(), "{what}: {line}");
            }
        }
        // The bytes are shown, escaped, not dropped: the gateway in the redirect finding (text
        // shows info findings with -v only), the ID in the payload details (-v).
        let escaped_gw = if json {
            r"gw.example\\x0aERROR [auth_failed] forged finding (observed)\\x0d\\x0a"
        } else {
            r"gw.example\x0aERROR [auth_failed] forged finding (observed)\x0d\x0a"
        };
        if json || args.contains(&"-v") {
            assert!(
                stdout.contains(escaped_gw),
                "{what}: no escaped gateway:\n{stdout}"
            );
        }
        if args.contains(&"-v") {
            let escaped_id = if json {
                r"vpn\\x1b]0;owned\\x07\\x1b[2J\\u{009b}31m\\u{202e}evil\\xff\\xfe.example"
            } else {
                r"vpn\x1b]0;owned\x07\x1b[2J\u{009b}31m\u{202e}evil\xff\xfe.example"
            };
            assert!(
                stdout.contains(escaped_id),
                "{what}: no escaped ID:\n{stdout}"
            );
        }
    }
    std::fs::remove_file(&path).unwrap();
}

/// The `-r` path is the operator's, but a file handed over may be named by anyone: its name is
/// escaped like packet text in the summary, the JSON `meta` line and the messages on standard
/// error.
#[test]
fn a_hostile_file_name_is_escaped_too() {
    let dir = std::env::temp_dir().join(format!("ike-sniff-name-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vpn\x1b]0;owned\x07\nERROR [auth_failed] forged.pcap");
    let mut bytes = std::fs::read(hostile_capture("name")).unwrap();
    // A record cut short, so standard error names the file too.
    bytes.extend_from_slice(&[0; 7]);
    std::fs::write(&path, bytes).unwrap();
    for args in [&[][..], &["-q"], &["--json"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
            .args(args)
            .arg("-r")
            .arg(&path)
            .output()
            .unwrap();
        let what = format!("ike-sniff {args:?}");
        assert_eq!(out.status.code(), Some(1), "{what}");
        let stdout = check_clean(&what, &out.stdout);
        let stderr = check_clean(&format!("{what} (stderr)"), &out.stderr);
        let escaped = r"vpn\x1b]0;owned\x07\x0aERROR [auth_failed] forged.pcap";
        assert!(stderr.contains(escaped), "{what}: {stderr}");
        if args.contains(&"--json") {
            let meta: serde_json::Value =
                serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
            assert!(
                meta["source"].as_str().unwrap().ends_with(escaped),
                "{what}: {meta}"
            );
        } else {
            assert!(stdout.contains(&format!("== Summary: {}", dir.join(escaped).display())));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
