//! FortiGate `diagnose vpn tunnel list`: per tunnel a header with `LOCAL:PORT->REMOTE:PORT`,
//! per proxy ID a pair of SAs:
//!
//! ```text
//!   dec: spi=9822756d esp=3des key=24 b926cf43…
//!        ah=md5 key=16 7885e747…
//!   enc: spi=de81092c esp=3des key=24 03a53fee…
//!        ah=md5 key=16 cd2e8d8a…
//! ```
//!
//! `dec` is inbound to the FortiGate (remote → local), `enc` outbound; the header addresses
//! become the address hints. FortiOS shows no IKE keys anywhere we found.

use std::net::IpAddr;

use zeroize::Zeroizing;

use super::ring::{Encr, EspKeys, Format, Integ, Secret};
use super::sink::{Sink, hex, quoted, spi32};

pub(crate) fn looks_like(text: &str) -> bool {
    (text.contains("dec: spi=") || text.contains("enc: spi=")) && text.contains(" esp=")
}

struct Sa {
    line: u32,
    inbound: bool,
    spi: Option<u32>,
    esp: Option<(String, Zeroizing<String>, usize)>,
    ah: Option<(String, Zeroizing<String>, usize)>,
}

pub(crate) fn parse(sink: &mut Sink<'_>, text: &str) {
    let mut local: Option<IpAddr> = None;
    let mut remote: Option<IpAddr> = None;
    let mut cur: Option<Sa> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = (i + 1) as u32;
        let t = raw.trim();
        if t.starts_with("name=") {
            // `name=vpn1 ver=1 serial=1 10.0.0.1:0->10.0.0.2:0 …`
            if let Some(sa) = cur.take() {
                emit(sink, sa, local, remote);
            }
            if let Some(pair) = t.split_whitespace().find(|w| w.contains("->")) {
                let (l, r) = pair.split_once("->").unwrap_or(("", ""));
                local = addr(l);
                remote = addr(r);
            }
            continue;
        }
        let (dir, rest) = if let Some(r) = t.strip_prefix("dec:") {
            (Some(true), r)
        } else if let Some(r) = t.strip_prefix("enc:") {
            (Some(false), r)
        } else {
            (None, t)
        };
        if let Some(inbound) = dir {
            if let Some(sa) = cur.take() {
                emit(sink, sa, local, remote);
            }
            cur = Some(Sa {
                line,
                inbound,
                spi: None,
                esp: None,
                ah: None,
            });
        }
        let Some(sa) = cur.as_mut() else { continue };
        let w: Vec<&str> = rest.split_whitespace().collect();
        let mut k = 0;
        while k < w.len() {
            let f = w[k];
            if let Some(s) = f.strip_prefix("spi=") {
                sa.spi = spi32(s);
            } else if let Some((kind, name)) = f.split_once('=')
                && matches!(kind, "esp" | "ah")
            {
                let len = w
                    .get(k + 1)
                    .and_then(|x| x.strip_prefix("key="))
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(len) = len {
                    let key = if len > 0 {
                        w.get(k + 2).copied().unwrap_or("")
                    } else {
                        ""
                    };
                    let v = Some((name.to_string(), Zeroizing::new(key.to_string()), len));
                    if kind == "esp" {
                        sa.esp = v;
                    } else {
                        sa.ah = v;
                    }
                    k += if len > 0 { 2 } else { 1 };
                }
            }
            k += 1;
        }
        if dir.is_none() && !t.starts_with("ah=") && !t.starts_with("esp=") {
            if let Some(sa) = cur.take() {
                emit(sink, sa, local, remote);
            }
        }
    }
    if let Some(sa) = cur.take() {
        emit(sink, sa, local, remote);
    }
}

fn addr(s: &str) -> Option<IpAddr> {
    let host = s.rsplit_once(':').map_or(s, |(h, _)| h);
    host.trim_matches(['[', ']']).parse().ok()
}

fn encr(name: &str, len: usize) -> Option<Encr> {
    Some(match name {
        "null" => Encr::Null,
        "des" => Encr::Des,
        "3des" => Encr::TripleDes,
        "aes" | "aes128" | "aes192" | "aes256" => Encr::AesCbc,
        "aesctr" | "aes-ctr" => Encr::AesCtr,
        "aes-gcm" | "aesgcm" | "aes128gcm" | "aes256gcm" => Encr::AesGcm { icv: 16 },
        "chacha20poly1305" => Encr::ChaCha20Poly1305,
        _ => {
            let _ = len;
            return None;
        }
    })
}

fn integ(name: &str) -> Option<Integ> {
    Some(match name {
        "null" => Integ::None,
        "md5" => Integ::HmacMd5_96,
        "sha1" => Integ::HmacSha1_96,
        "sha256" => Integ::HmacSha256_128,
        "sha384" => Integ::HmacSha384_192,
        "sha512" => Integ::HmacSha512_256,
        _ => return None,
    })
}

fn emit(sink: &mut Sink<'_>, sa: Sa, local: Option<IpAddr>, remote: Option<IpAddr>) {
    let Some(spi) = sa.spi else {
        return sink.skip(sa.line, "SPI must be up to 8 hex digits".into());
    };
    let Some((name, key, len)) = sa.esp else {
        return sink.skip(sa.line, "no esp= key in this SA".into());
    };
    let Some(e) = encr(&name, len) else {
        return sink.skip(sa.line, format!("unknown algorithm {}", quoted(&name)));
    };
    let enc_key = match hex(&key) {
        Ok(k) => k,
        Err(err) => return sink.skip(sa.line, format!("esp key is {err}")),
    };
    if enc_key.len() != len || !e.key_len_ok(len) {
        return sink.skip(
            sa.line,
            format!(
                "{}-byte key (key={len}) does not fit {}",
                enc_key.len(),
                e.name()
            ),
        );
    }
    let (integ, auth_key) = match sa.ah {
        Some((name, key, len)) => {
            let Some(i) = integ(&name) else {
                return sink.skip(sa.line, format!("unknown algorithm {}", quoted(&name)));
            };
            match hex(&key) {
                Ok(k) if k.len() == len => (i, k),
                Ok(k) => {
                    return sink.skip(sa.line, format!("{}-byte ah key, key={len} says", k.len()));
                }
                Err(err) => return sink.skip(sa.line, format!("ah key is {err}")),
            }
        }
        None => (Integ::None, Secret::new(Vec::new())),
    };
    let (src, dst) = if sa.inbound {
        (remote, local)
    } else {
        (local, remote)
    };
    sink.esp(EspKeys {
        spi,
        src,
        dst,
        encr: e,
        enc_key,
        integ: if e.is_aead() { Integ::None } else { integ },
        auth_key,
        esn: None,
        seq_hi: None,
        origin: sink.origin(sa.line, Format::FortiGate),
    });
}

#[cfg(test)]
mod tests {
    use super::super::load::load;
    use super::*;

    // Layout as in the FortiOS output quoted in KEYS.md (wiki.xdroop.com); keys synthetic.
    const LIST: &str = "list all ipsec tunnel in vd 0
------------------------------------------------------
name=to-branch ver=1 serial=1 203.0.113.1:0->198.51.100.7:0 lgwy=static tun=intf mode=auto bound_if=3
proxyid_num=1 child_num=0 refcnt=8 ilast=0 olast=0
proxyid=to-branch proto=0 sa=1 ref=2 serial=1
  src: 0:10.1.0.0/255.255.255.0:0
  dst: 0:10.2.0.0/255.255.255.0:0
  SA: ref=3 options=0000000f type=00 soft=0 mtu=1436 expire=1598 replaywin=1024 seqno=1
  life: type=01 bytes=0/0 timeout=1753/1800
  dec: spi=9822756d esp=3des key=24 000102030405060708090a0b0c0d0e0f1011121314151617
       ah=md5 key=16 000102030405060708090a0b0c0d0e0f
  enc: spi=de81092c esp=aes key=32 000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f
       ah=sha256 key=32 000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f
  npu_flag=00 npu_rgwy=198.51.100.7 npu_lgwy=203.0.113.1
";

    #[test]
    fn dec_is_inbound_enc_outbound() {
        let dir = std::env::temp_dir().join(format!("ike-sniff-forti-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("tunnels.txt");
        std::fs::write(&p, LIST).unwrap();
        let l = load(&[p]).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        assert!(l.report.skipped.is_empty(), "{}", l.report);
        let fg: IpAddr = "203.0.113.1".parse().unwrap();
        let k = &l.ring.esp[&0x9822756d][0];
        assert_eq!((k.encr, k.integ), (Encr::TripleDes, Integ::HmacMd5_96));
        assert_eq!(k.dst, Some(fg));
        let k = &l.ring.esp[&0xde81092c][0];
        assert_eq!((k.encr, k.integ), (Encr::AesCbc, Integ::HmacSha256_128));
        assert_eq!(k.src, Some(fg));
    }
}
