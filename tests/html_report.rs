//! The HTML report (issue 15) opened in a real browser: headless chromium loads each report
//! with `#selftest`, which makes the page draw every ladder, click each finding, type into the
//! filter box and write what it saw into `#selftest-result`; `--dump-dom` hands that back.
//! Checked against the same run's `--json`: one arrow per IKE message of each tunnel, the
//! retransmissions and unanswered requests marked, a finding's click marking exactly its
//! frames on the ladder, no console message at all (the page logs nothing; a script error or a
//! Content-Security-Policy refusal would log one), and an IKE ID made of markup shown as text
//! with no script of its own run.
//!
//! Without chromium the tests say so and pass, except in CI (`CI=true`), where they fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "support/hostile.rs"]
mod hostile;

const LAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/lab/pcaps");

/// The browser, or `None` (after saying why) when it is absent outside CI.
fn chromium() -> Option<&'static str> {
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(name);
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "chromium is not installed, and CI must run the browser tests (.ci/run installs it)"
        );
    }
    eprintln!(
        "SKIPPED: chromium is not installed (apt-get install chromium); the HTML report was not \
         opened in a browser"
    );
    None
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ike-sniff-html-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `ike-sniff -q -r capture --html …` and returns the page's path.
fn report(capture: &Path, dir: &Path) -> PathBuf {
    let page = dir.join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(["-q", "--threads", "1", "-r"])
        .arg(capture)
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    page
}

/// What the page's self-test found, the whole DOM after it, and chromium's console lines.
fn open(browser: &str, page: &Path, dir: &Path) -> (Value, String, Vec<String>) {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}#selftest", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let console: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    let start = dom
        .find("<pre id=\"selftest-result\">")
        .unwrap_or_else(|| panic!("no self-test result in the DOM:\n{dom}"));
    let body = &dom[start + "<pre id=\"selftest-result\">".len()..];
    let end = body.find("</pre>").expect("the result ends");
    let text = body[..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let result: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("self-test result is not JSON ({e}): {text}"));
    (result, dom, console)
}

/// IKE packet lines per peer pair (addresses in order), from `--json` on the same capture.
fn ike_per_pair(capture: &Path) -> HashMap<[String; 2], u64> {
    let out = Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(["--json", "--threads", "1", "-r"])
        .arg(capture)
        .output()
        .unwrap();
    let mut n = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] == "packet" && v.get("ike").is_some() {
            *n.entry(pair(&v["src"], &v["dst"])).or_default() += 1;
        }
    }
    n
}

fn pair(a: &Value, b: &Value) -> [String; 2] {
    let mut p = [
        a.as_str().unwrap().to_string(),
        b.as_str().unwrap().to_string(),
    ];
    p.sort();
    p
}

/// The checks every report passes; returns the self-test result.
fn check(browser: &str, name: &str) -> Value {
    let capture = Path::new(LAB).join(format!("{name}.pcap"));
    let dir = scratch(name);
    let page = report(&capture, &dir);
    let (r, _, console) = open(browser, &page, &dir);
    assert!(console.is_empty(), "{name}: console: {console:#?}");
    assert_eq!(r["errors"], serde_json::json!([]), "{name}");
    assert_eq!(r["injected"], Value::Null, "{name}");
    let expected = ike_per_pair(&capture);
    let ladders = r["ladders"].as_array().unwrap();
    assert_eq!(ladders.len(), expected.len(), "{name}: {r}");
    for l in ladders {
        let p = pair(&l["peers"][0], &l["peers"][1]);
        assert_eq!(l["omitted"], 0, "{name}");
        assert_eq!(
            l["ike"].as_u64(),
            expected.get(&p).copied(),
            "{name}: arrows on the ladder of {p:?} vs IKE packets in --json"
        );
    }
    // Clicking a finding marks exactly those of its frames the ladder has.
    let on_ladders: Vec<u64> = ladders
        .iter()
        .flat_map(|l| l["frames"].as_array().unwrap())
        .filter_map(Value::as_u64)
        .collect();
    for c in r["clicks"].as_array().unwrap() {
        assert_eq!(c["active"], true, "{name}: {c}");
        let mut want: Vec<u64> = c["frames"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .filter(|f| on_ladders.contains(f))
            .collect();
        let mut got: Vec<u64> = c["highlighted"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        want.sort();
        want.dedup();
        got.sort();
        got.dedup();
        assert_eq!(got, want, "{name}: finding {}", c["id"]);
    }
    assert_eq!(r["filter"]["hidden"], r["filter"]["rows"], "{name}: {r}");
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn clicks_marking(r: &Value) -> usize {
    r["clicks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["highlighted"].as_array().unwrap().is_empty())
        .count()
}

#[test]
fn unanswered_retransmissions_are_marked() {
    let Some(b) = chromium() else { return };
    let r = check(b, "ike_udp500_blocked");
    let l = &r["ladders"][0];
    // Five transmissions of one IKE_SA_INIT request: four are retransmissions, none answered.
    assert_eq!(l["ike"], 5, "{r}");
    assert_eq!(l["retrans"], 4, "{r}");
    assert_eq!(l["unanswered"], 5, "{r}");
    assert!(clicks_marking(&r) > 0, "{r}");
}

#[test]
fn icmp_errors_come_in_on_the_ladder() {
    let Some(b) = chromium() else { return };
    let r = check(b, "peer_no_ike");
    let l = &r["ladders"][0];
    assert!(l["icmp"].as_u64().unwrap() > 0, "{r}");
    assert!(l["unanswered"].as_u64().unwrap() > 0, "{r}");
    assert!(clicks_marking(&r) > 0, "{r}");
}

#[test]
fn lost_fragments_and_error_marks() {
    let Some(b) = chromium() else { return };
    let r = check(b, "ike_auth_ip_fragments_dropped");
    let l = &r["ladders"][0];
    assert!(l["error"].as_u64().unwrap() > 0, "{r}");
    assert!(l["retrans"].as_u64().unwrap() > 0, "{r}");
    assert!(clicks_marking(&r) > 0, "{r}");
}

#[test]
fn negotiation_failures_and_healthy_tunnels_open_cleanly() {
    let Some(b) = chromium() else { return };
    for name in [
        "psk_mismatch_ikev2",
        "ts_mismatch",
        "ike_auth_ip_fragmented",
        "nat_t",
        "dead_peer",
    ] {
        let r = check(b, name);
        assert!(clicks_marking(&r) > 0, "{name}: {r}");
    }
    let r = check(b, "healthy_ikev2");
    let l = &r["ladders"][0];
    assert_eq!(
        (l["retrans"].as_u64(), l["unanswered"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );
}

#[test]
fn an_id_made_of_markup_is_shown_as_text() {
    let Some(b) = chromium() else { return };
    let capture = hostile::markup_capture("html");
    let dir = scratch("markup");
    let page = report(&capture, &dir);
    let html = std::fs::read_to_string(&page).unwrap();
    // In the file: the ID never appears as markup, inside the template or the embedded JSON.
    assert!(
        !html.contains("<script>window.__pwned"),
        "unescaped script in the file"
    );
    assert!(!html.contains("<img src=x"), "unescaped img in the file");
    assert_eq!(html.matches("</svg>").count(), 0, "unescaped </svg>");
    let (r, dom, console) = open(b, &page, &dir);
    assert!(console.is_empty(), "console: {console:#?}");
    assert_eq!(r["injected"], Value::Null, "an injected script ran");
    assert_eq!(r["errors"], serde_json::json!([]));
    assert_eq!(r["ladders"][0]["ike"], 2, "{r}");
    // In the browser: the ID is text (serialized back escaped), in the packet lines.
    assert!(
        dom.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;/svg&gt;&lt;img src=x"),
        "the ID is not shown as text"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&capture);
}
