//! Live-mode flags that need no capture: validation, `--print-filter`, `-D`. Run anywhere.

use std::process::Command;

fn ike_sniff(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn live_only_flags_need_an_interface() {
    for args in [
        &["-r", "x.pcap", "-w", "out.pcap"][..],
        &["-r", "x.pcap", "--duration", "3"],
        &["-r", "x.pcap", "-Z", "nobody"],
        &["-r", "x.pcap", "host", "192.0.2.1"],
    ] {
        let out = ike_sniff(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("needs live capture (-i IFACE)"),
            "{args:?}: {err}"
        );
    }
    // Rotation needs -w; -r and -i exclude each other (clap's usage errors).
    assert_eq!(ike_sniff(&["-i", "lo", "-C", "10"]).status.code(), Some(2));
    assert_eq!(
        ike_sniff(&["-i", "lo", "-r", "x.pcap"]).status.code(),
        Some(2)
    );
    let out = ike_sniff(&["-i", "lo", "--duration", "-1"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn print_filter_shows_ours_narrowed_by_the_expression() {
    let out = ike_sniff(&["--print-filter"]);
    assert!(out.status.success());
    let ours = String::from_utf8(out.stdout).unwrap();
    assert_eq!(ours.trim(), ike_sniff::capture::live::IPSEC_FILTER);
    let out = ike_sniff(&["--print-filter", "host", "203.0.113.5"]);
    let narrowed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        narrowed.trim(),
        format!("({}) and (host 203.0.113.5)", ours.trim())
    );
}

#[test]
fn list_interfaces_includes_loopback() {
    let out = ike_sniff(&["-D"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with(char::is_numeric) && l.contains(".lo")),
        "{text}"
    );
}
