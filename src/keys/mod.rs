//! Keys an operator hands over (`--keys`), in whatever format their tools wrote them, turned into
//! one key ring the decoder looks up by SPI.
//!
//! Every format normalises to three records: [`IkeV2Keys`] (one IKE SA, by SPIi/SPIr),
//! [`IkeV1Keys`] (one ISAKMP SA, by initiator cookie — all Wireshark's table gives) and
//! [`EspKeys`] (one ESP SA, one direction, by SPI). SPIs are the lookup key; addresses are only
//! hints, because NAT and MOBIKE change them under a running SA.
//!
//! Key bytes live in [`Secret`]: wiped on drop, and printed as their length only, so a `{:?}`
//! anywhere (an error, a debug line, a test failure) cannot leak them.
//!
//! [`load`] reads files, folders or stdin and detects each file's format; one parser per format
//! family sits beside it (`wireshark`, `tcpdump` with Libreswan's `ikev2 I` lines, `charon`,
//! `libreswan`, `xfrm`, `setkey`, `fortigate`), all feeding the `sink` that counts, caps and
//! explains. The [`LoadReport`] says what was loaded from where and why any line was not.

mod charon;
mod fortigate;
mod libreswan;
mod load;
mod ring;
mod setkey;
mod sink;
mod tcpdump;
mod wireshark;
mod xfrm;

pub use load::{LoadError, MAX_FILE_BYTES, load, load_bytes};
pub use ring::{
    Encr, EspKeys, Format, IkeV1Keys, IkeV2Keys, Integ, KeyRing, Origin, Secret, V1Hash,
};
pub use sink::{Counts, LoadReport, Loaded, MAX_KEYS, Skipped};

/// A fresh folder for one test's key file: one per call, since tests run in parallel and
/// several write the same file name.
#[cfg(test)]
fn scratch(name: &str) -> std::path::PathBuf {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("ike-sniff-keys-{}-{n}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
