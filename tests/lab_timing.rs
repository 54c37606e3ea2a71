//! The lab's timing scenarios (issue 11 §7) tell their story as it happened, on the real
//! daemons' captures: a condition raised while it lasts and cleared when it ends, a restart told
//! once with the SPIs of the SAs it cost and of the SA that replaced them.

#[path = "support/mod.rs"]
mod support;

use support::{Run, analyze, capture};

fn run(name: &str) -> Run {
    analyze(&capture(&format!("lab/pcaps/{name}.pcap")))
}

/// The right's ESP is dropped for 15 s mid-tunnel, then let through again.
#[test]
fn esp_that_stops_one_way_is_raised_then_cleared() {
    let r = run("esp_stops_one_way");
    let one_way: Vec<_> = r.live.iter().filter(|f| f.kind == "esp_one_way").collect();
    assert!(one_way.len() >= 2, "{}", r.describe());
    assert!(!one_way[0].clearing && one_way[1].clearing);
    assert_eq!(one_way[0].id, one_way[1].id);
    let reason = &one_way[1].cleared.as_ref().unwrap().reason;
    assert!(reason.contains("flows again, 15."), "{reason}");
}

/// The restarted responder starts the new IKE SA itself; the survivor's DPD on the old SA went
/// unanswered meanwhile.
#[test]
fn a_responder_that_restarts_and_initiates_is_peer_restarted() {
    let r = run("peer_restarted");
    let f: Vec<_> = r.all().filter(|f| f.kind == "peer_restarted").collect();
    assert_eq!(f.len(), 1, "{}", r.describe());
    let s = &f[0].summary;
    for part in [
        "198.51.100.20 lost IKE SA e8d021ad1803b520/a2a10abc9f2b4f9a",
        "INFORMATIONAL (message ID 2) request on it was sent 4 times",
        "kept sending ESP on the old SPI 0xdfa98981",
        "new IKE SA 006b24b8eb08b540/292fc0f35cd3ccfe started by 198.51.100.20",
    ] {
        assert!(s.contains(part), "{part}: {s}");
    }
    // The unanswered DPD was said while it happened and cleared by the new SA, not told again
    // as a stale SA.
    let dead: Vec<_> = r.live.iter().filter(|f| f.kind == "dead_peer").collect();
    assert!(dead.iter().any(|d| d.clearing), "{}", r.describe());
    assert!(r.find("stale_sa").is_none(), "{}", r.describe());
}

/// The survivor gives up on the old SA and sets up a new one (dpd_action=restart).
#[test]
fn a_responder_restart_with_dpd_restart_is_peer_restarted() {
    let r = run("responder_restart");
    let f = r.find("peer_restarted").expect("reported");
    assert!(
        f.summary
            .contains("lost IKE SA 573bb80d920cc454/708c9643acb1afa8")
            && f.summary
                .contains("new IKE SA 380c5ff78785ed3b/7cb8a35d5587a989 started by 192.0.2.10"),
        "{}",
        f.summary
    );
    assert!(r.find("stale_sa").is_none(), "{}", r.describe());
}
