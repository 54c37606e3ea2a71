#![allow(dead_code)] // each target uses part of it
//! Input formats the targets share: a fuzz input cut into a sequence of records, so that one
//! input is several packets (or fragments, or messages) and stateful stages see sequences.

/// Link types the decoder knows, and a few it does not (counted, never decoded).
pub const LINKTYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];

/// Cuts `data` into records `[tag: u8][len: u16 BE][len bytes]`; a last record that runs past
/// the end keeps what is there.
pub fn records(mut data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 3 && out.len() < 256 {
        let tag = data[0];
        let len = usize::from(u16::from_be_bytes([data[1], data[2]]));
        let rest = &data[3..];
        let take = len.min(rest.len());
        out.push((tag, &rest[..take]));
        data = &rest[take..];
    }
    out
}
