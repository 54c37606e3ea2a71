//! A JSON object laid out key by key in a line buffer, for the lines written for nearly every
//! packet (`packet` lines of IKE, ESP and keepalives). serde_json escapes every key and writes
//! it through a serializer call per quote and colon; here a key, one of the schema's own ASCII
//! names, is copied as it is, integers go through `itoa`, and a string value is copied as it is
//! when it holds nothing JSON escapes (then it is byte for byte what serde_json writes), else
//! handed to serde_json. Anything rarer is a `value`, serialized by serde_json in place.
//!
//! Keys are written in the order they are given: callers keep the schema's sorted order.

use std::io;
use std::net::IpAddr;

use serde::Serialize;

use super::fmt::{Addr, ipv4_text};

pub struct Obj<'b> {
    out: &'b mut Vec<u8>,
    first: bool,
}

impl<'b> Obj<'b> {
    pub fn open(out: &'b mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    pub fn close(self) {
        self.out.push(b'}');
    }

    fn key(&mut self, k: &str) {
        debug_assert!(!needs_escape(k), "{k}");
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    pub fn uint(&mut self, k: &str, v: impl itoa::Integer) {
        self.key(k);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    pub fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    pub fn str(&mut self, k: &str, v: &str) -> io::Result<()> {
        self.key(k);
        string(self.out, v)
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> io::Result<()> {
        match v {
            Some(v) => self.str(k, v),
            None => {
                self.key(k);
                self.out.extend_from_slice(b"null");
                Ok(())
            }
        }
    }

    pub fn addr(&mut self, k: &str, a: IpAddr) -> io::Result<()> {
        match a {
            IpAddr::V4(a) => {
                let mut buf = [0u8; 15];
                self.key(k);
                quoted(self.out, ipv4_text(a, &mut buf));
                Ok(())
            }
            IpAddr::V6(_) => self.value(k, &Addr(a)),
        }
    }

    /// A key whose value the caller writes next, through the returned buffer.
    pub fn raw(&mut self, k: &str) -> &mut Vec<u8> {
        self.key(k);
        self.out
    }

    pub fn value(&mut self, k: &str, v: &impl Serialize) -> io::Result<()> {
        self.key(k);
        serde_json::to_writer(&mut *self.out, v)?;
        Ok(())
    }
}

/// `v` as a JSON string, as serde_json writes it.
pub fn string(out: &mut Vec<u8>, v: &str) -> io::Result<()> {
    if needs_escape(v) {
        serde_json::to_writer(&mut *out, v)?;
    } else {
        quoted(out, v);
    }
    Ok(())
}

fn quoted(out: &mut Vec<u8>, v: &str) {
    out.push(b'"');
    out.extend_from_slice(v.as_bytes());
    out.push(b'"');
}

/// What serde_json escapes: control characters, the quote and the backslash (everything else,
/// non-ASCII included, it writes as it is).
fn needs_escape(v: &str) -> bool {
    v.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_what_serde_json_writes() {
        for s in [
            "",
            "plain",
            "q\"uote",
            "back\\slash",
            "tab\there",
            "\u{7f}",
            "é – ok",
            "\u{1}",
        ] {
            let mut out = Vec::new();
            string(&mut out, s).unwrap();
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn an_object_reads_back() {
        let mut out = Vec::new();
        let mut o = Obj::open(&mut out);
        o.str("a", "x\"y").unwrap();
        o.uint("b", u64::MAX);
        o.bool("c", false);
        o.opt_str("d", None).unwrap();
        o.addr("e", IpAddr::from([192, 0, 2, 10])).unwrap();
        o.addr("f", "2001:db8::1".parse().unwrap()).unwrap();
        o.value("g", &[1, 2]).unwrap();
        o.close();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": "x\"y", "b": u64::MAX, "c": false, "d": null,
                "e": "192.0.2.10", "f": "2001:db8::1", "g": [1, 2]})
        );
    }
}
