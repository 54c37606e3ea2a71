//! Live-mode flags that need no capture: validation, `--print-filter`, `-D`. Run anywhere.

use std::process::Command;

fn ike_sniff(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ike-sniff"))
        .args(args)
        .output()
        .unwrap()
}

/// Issue 14: every live-only flag given with `-r` is refused the same way, exit 2, and one
/// message names all of them.
#[test]
fn live_only_flags_need_an_interface() {
    for (args, named) in [
        (&["-r", "x.pcap", "--duration", "3"][..], "--duration"),
        (&["-r", "x.pcap", "-Z", "nobody"], "-Z"),
        (&["-r", "x.pcap", "-s", "0"], "-s"),
        (&["-r", "x.pcap", "-B", "1024"], "-B"),
        (&["-r", "x.pcap", "-p"], "-p"),
        (
            &["-r", "x.pcap", "--stats-interval", "5"],
            "--stats-interval",
        ),
        (&["-r", "x.pcap", "-w", "o.pcap", "-C", "10"], "-C"),
        (&["-r", "x.pcap", "-w", "o.pcap", "-G", "10"], "-G"),
        (
            &["-r", "x.pcap", "-s", "1500", "-p", "--duration", "1"],
            "-s, -p, --duration",
        ),
    ] {
        let out = ike_sniff(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: one clear message: {err}");
        let (flags, _) = err
            .strip_prefix("ike-sniff: ")
            .and_then(|e| e.split_once(" only for live capture (-i IFACE)"))
            .unwrap_or_else(|| panic!("{args:?}: {err}"));
        assert!(flags.ends_with(named), "{args:?}: {err}");
    }
    // Rotation needs -w; -r and -i exclude each other (clap's usage errors).
    assert_eq!(ike_sniff(&["-i", "lo", "-C", "10"]).status.code(), Some(2));
    assert_eq!(
        ike_sniff(&["-i", "lo", "-r", "x.pcap"]).status.code(),
        Some(2)
    );
    let out = ike_sniff(&["-i", "lo", "--duration", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    // tcpdump's "-s 0" is the largest snap length; below a whole IKE message is refused.
    assert_eq!(ike_sniff(&["-i", "lo", "-s", "100"]).status.code(), Some(2));
    // "-s 0 -nn" pass validation: the run gets as far as opening the interface.
    let out = ike_sniff(&["-i", "no-such-if0", "-s", "0", "-nn"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no-such-if0: no such interface"), "{err}");
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
