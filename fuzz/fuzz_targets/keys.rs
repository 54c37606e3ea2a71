//! The key loader on one file's bytes: read as each Wireshark table (chosen by name) and as any
//! other file (format by content). Key files come from users, but also from logs a peer's
//! messages end up in; no input may panic it or put a terminal escape into its report.
#![no_main]

use ike_sniff::keys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for name in [
        "ikev2_decryption_table",
        "ikev1_decryption_table",
        "esp_sa",
        "keys.txt",
    ] {
        let loaded = keys::load_bytes(name, data);
        let shown = loaded.report.to_string();
        assert!(!shown.contains('\x1b'));
        let _ = format!("{:?}", loaded.ring);
    }
});
