//! The records every key format normalises to, and the ring that indexes them by what the wire
//! carries (SPIs, cookies). Re-exported from [`crate::keys`].

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use zeroize::Zeroizing;

/// Key bytes. Never printed: `Debug` shows the length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}-byte key>", self.0.len())
    }
}

/// An encryption algorithm, for IKEv2 SK payloads, IKEv1 and ESP alike. The key handed with it
/// includes any salt (GCM/CTR/ChaCha: 4 bytes, CCM: 3) at its end, the way every key source
/// writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encr {
    Null,
    Des,
    TripleDes,
    AesCbc,
    AesCtr,
    /// AES-GCM with an ICV of 8, 12 or 16 bytes.
    AesGcm {
        icv: u8,
    },
    /// AES-CCM with an ICV of 8, 12 or 16 bytes.
    AesCcm {
        icv: u8,
    },
    /// ENCR_NULL_AUTH_AES_GMAC (RFC 4543): authenticated, not encrypted.
    AesGmac,
    ChaCha20Poly1305,
}

impl Encr {
    /// The IKEv2 ENCR transform ID (IANA "Transform Type 1"), as an IKE_SA_INIT or
    /// CREATE_CHILD_SA proposal names it; `None` for one we cannot open.
    pub fn from_ikev2_id(id: u16) -> Option<Encr> {
        Some(match id {
            2 => Encr::Des,
            3 => Encr::TripleDes,
            11 => Encr::Null,
            12 => Encr::AesCbc,
            13 => Encr::AesCtr,
            14 => Encr::AesCcm { icv: 8 },
            15 => Encr::AesCcm { icv: 12 },
            16 => Encr::AesCcm { icv: 16 },
            18 => Encr::AesGcm { icv: 8 },
            19 => Encr::AesGcm { icv: 12 },
            20 => Encr::AesGcm { icv: 16 },
            28 => Encr::ChaCha20Poly1305,
            _ => return None,
        })
    }

    /// Combined-mode (AEAD) ciphers carry their own ICV; no separate integrity algorithm.
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            Encr::AesGcm { .. } | Encr::AesCcm { .. } | Encr::AesGmac | Encr::ChaCha20Poly1305
        )
    }

    /// Bytes of the key that are salt (the nonce's fixed part), at the key's end.
    pub fn salt_len(self) -> usize {
        match self {
            Encr::AesCtr | Encr::AesGcm { .. } | Encr::AesGmac | Encr::ChaCha20Poly1305 => 4,
            Encr::AesCcm { .. } => 3,
            _ => 0,
        }
    }

    /// Whether `len` bytes (salt included) make a valid key for this algorithm.
    pub fn key_len_ok(self, len: usize) -> bool {
        let cipher = len.wrapping_sub(self.salt_len());
        match self {
            Encr::Null => len == 0,
            Encr::Des => len == 8,
            Encr::TripleDes => len == 24,
            Encr::ChaCha20Poly1305 => len == 36,
            _ => len >= self.salt_len() && matches!(cipher, 16 | 24 | 32),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encr::Null => "NULL",
            Encr::Des => "DES-CBC",
            Encr::TripleDes => "3DES-CBC",
            Encr::AesCbc => "AES-CBC",
            Encr::AesCtr => "AES-CTR",
            Encr::AesGcm { icv: 8 } => "AES-GCM-8",
            Encr::AesGcm { icv: 12 } => "AES-GCM-12",
            Encr::AesGcm { .. } => "AES-GCM-16",
            Encr::AesCcm { icv: 8 } => "AES-CCM-8",
            Encr::AesCcm { icv: 12 } => "AES-CCM-12",
            Encr::AesCcm { .. } => "AES-CCM-16",
            Encr::AesGmac => "AES-GMAC",
            Encr::ChaCha20Poly1305 => "ChaCha20-Poly1305",
        }
    }
}

/// An integrity algorithm (IKEv2 INTEG, ESP authentication). `Unchecked` is what a key source
/// says when it gives only the ICV length (Wireshark's "ANY 96 bit authentication [no
/// checking]", tcpdump's `-hmac96`): the ICV is stripped, never verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Integ {
    None,
    HmacMd5_96,
    HmacSha1_96,
    HmacSha1_160,
    HmacSha256_128,
    HmacSha384_192,
    HmacSha512_256,
    AesXcbc96,
    AesCmac96,
    Unchecked { icv: u8 },
}

impl Integ {
    /// The IKEv2 INTEG transform ID (IANA "Transform Type 3"); `None` for one we cannot check.
    pub fn from_ikev2_id(id: u16) -> Option<Integ> {
        Some(match id {
            0 => Integ::None,
            1 => Integ::HmacMd5_96,
            2 => Integ::HmacSha1_96,
            5 => Integ::AesXcbc96,
            7 => Integ::HmacSha1_160,
            8 => Integ::AesCmac96,
            12 => Integ::HmacSha256_128,
            13 => Integ::HmacSha384_192,
            14 => Integ::HmacSha512_256,
            _ => return None,
        })
    }

    /// Bytes of ICV this algorithm appends.
    pub fn icv_len(self) -> usize {
        match self {
            Integ::None => 0,
            Integ::HmacMd5_96 | Integ::HmacSha1_96 | Integ::AesXcbc96 | Integ::AesCmac96 => 12,
            Integ::HmacSha256_128 => 16,
            Integ::HmacSha1_160 => 20,
            Integ::HmacSha384_192 => 24,
            Integ::HmacSha512_256 => 32,
            Integ::Unchecked { icv } => usize::from(icv),
        }
    }

    /// Key length the algorithm takes (HMAC: the hash output; XCBC/CMAC: 16), `None` when any
    /// length goes (unchecked, none).
    pub fn key_len(self) -> Option<usize> {
        match self {
            Integ::HmacMd5_96 | Integ::AesXcbc96 | Integ::AesCmac96 => Some(16),
            Integ::HmacSha1_96 | Integ::HmacSha1_160 => Some(20),
            Integ::HmacSha256_128 => Some(32),
            Integ::HmacSha384_192 => Some(48),
            Integ::HmacSha512_256 => Some(64),
            Integ::None | Integ::Unchecked { .. } => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Integ::None => "none",
            Integ::HmacMd5_96 => "HMAC-MD5-96",
            Integ::HmacSha1_96 => "HMAC-SHA1-96",
            Integ::HmacSha1_160 => "HMAC-SHA1-160",
            Integ::HmacSha256_128 => "HMAC-SHA2-256-128",
            Integ::HmacSha384_192 => "HMAC-SHA2-384-192",
            Integ::HmacSha512_256 => "HMAC-SHA2-512-256",
            Integ::AesXcbc96 => "AES-XCBC-96",
            Integ::AesCmac96 => "AES-CMAC-96",
            Integ::Unchecked { .. } => "unchecked",
        }
    }
}

/// The IKEv1 phase-1 hash (it derives the IVs); from the capture's cleartext SA payload when
/// the key source does not say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum V1Hash {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// The format a key came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    WiresharkIkev2,
    WiresharkIkev1,
    WiresharkEsp,
    TcpdumpEsp,
    TcpdumpIkev2,
    LibreswanDebug,
    CharonLog,
    XfrmState,
    Setkey,
    FortiGate,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::WiresharkIkev2 => "Wireshark ikev2_decryption_table",
            Format::WiresharkIkev1 => "Wireshark ikev1_decryption_table",
            Format::WiresharkEsp => "Wireshark esp_sa",
            Format::TcpdumpEsp => "tcpdump -E espsecret",
            Format::TcpdumpIkev2 => "tcpdump ikev2 line",
            Format::LibreswanDebug => "Libreswan/Openswan debug log",
            Format::CharonLog => "strongSwan charon log",
            Format::XfrmState => "ip xfrm state",
            Format::Setkey => "setkey -D",
            Format::FortiGate => "FortiGate diagnose vpn tunnel list",
        }
    }
}

/// Where a key was read: enough to name it in a message without showing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: u32,
    pub format: Format,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One IKEv2 SA's keys. A source may give one direction only (a tcpdump `ikev2 I` line without
/// its `R` twin): the other stays `None` and that direction's messages are left encrypted.
/// `encr`/`integ` are `None` when the source does not name them (a log without the `selected
/// proposal` line): the decoder then takes them from the capture's IKE_SA_INIT response.
#[derive(Clone, Debug)]
pub struct IkeV2Keys {
    pub spi_i: u64,
    pub spi_r: u64,
    pub encr: Option<Encr>,
    pub integ: Option<Integ>,
    /// SK_ei / SK_er (salt included).
    pub sk_ei: Option<Secret>,
    pub sk_er: Option<Secret>,
    pub sk_ai: Option<Secret>,
    pub sk_ar: Option<Secret>,
    /// SK_d, when the source has it (charon logs): Child SA keys can be derived from it.
    pub sk_d: Option<Secret>,
    pub origin: Origin,
}

/// One IKEv1 (ISAKMP) SA's encryption key — the cipher key actually used (SKEYID_e expanded to
/// Ka and cut to the key length), keyed by the initiator cookie as Wireshark does; IKEv1 has
/// no ICV, so a key is accepted only when what it decrypts parses.
#[derive(Clone, Debug)]
pub struct IkeV1Keys {
    pub cookie_i: u64,
    /// Known from some sources (charon logs); Wireshark's table has none.
    pub cookie_r: Option<u64>,
    pub key: Secret,
    pub encr: Option<Encr>,
    pub hash: Option<V1Hash>,
    pub origin: Origin,
}

/// One ESP SA (one direction).
#[derive(Clone, Debug)]
pub struct EspKeys {
    pub spi: u32,
    /// Address hints (`None` = any, Wireshark's `*`).
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub encr: Encr,
    /// Encryption key with its salt at the end.
    pub enc_key: Secret,
    pub integ: Integ,
    pub auth_key: Secret,
    /// Extended sequence numbers: `Some(true)` when the source says ESN is on (ip xfrm's
    /// `esn` flag), `None` when it does not say.
    pub esn: Option<bool>,
    /// The high 32 bits of the sequence number when the source gives them (`seq-hi`).
    pub seq_hi: Option<u32>,
    pub origin: Origin,
}

/// All keys loaded, indexed by what the wire carries.
#[derive(Debug, Default)]
pub struct KeyRing {
    pub ikev2: HashMap<(u64, u64), IkeV2Keys>,
    /// Several keys per cookie are kept (both peers' keys when they derived different ones).
    pub ikev1: HashMap<u64, Vec<IkeV1Keys>>,
    /// Several per SPI: the same SPI on different address pairs, or a source repeating a key.
    pub esp: HashMap<u32, Vec<EspKeys>>,
    /// tcpdump's default SA (`ALGO:KEY` with no SPI): tried on ESP no other key claims.
    pub esp_default: Option<EspKeys>,
}

impl KeyRing {
    pub fn is_empty(&self) -> bool {
        self.ikev2.is_empty()
            && self.ikev1.is_empty()
            && self.esp.is_empty()
            && self.esp_default.is_none()
    }

    /// Adds IKEv2 keys; two sources giving one direction each of the same SA are merged.
    pub fn add_ikev2(&mut self, k: IkeV2Keys) {
        match self.ikev2.get_mut(&(k.spi_i, k.spi_r)) {
            Some(have) => {
                have.encr = have.encr.or(k.encr);
                have.integ = have.integ.or(k.integ);
                fill(&mut have.sk_ei, k.sk_ei);
                fill(&mut have.sk_er, k.sk_er);
                fill(&mut have.sk_ai, k.sk_ai);
                fill(&mut have.sk_ar, k.sk_ar);
                fill(&mut have.sk_d, k.sk_d);
            }
            None => {
                self.ikev2.insert((k.spi_i, k.spi_r), k);
            }
        }
    }

    pub fn add_ikev1(&mut self, k: IkeV1Keys) {
        let keys = self.ikev1.entry(k.cookie_i).or_default();
        if !keys.iter().any(|have| have.key == k.key) {
            keys.push(k);
        }
    }

    pub fn add_esp(&mut self, k: EspKeys) {
        let keys = self.esp.entry(k.spi).or_default();
        let same = |have: &EspKeys| {
            have.enc_key == k.enc_key
                && have.auth_key == k.auth_key
                && have.encr == k.encr
                && have.integ == k.integ
        };
        if !keys.iter().any(same) {
            keys.push(k);
        }
    }

    /// ESP keys for a packet: those for its SPI whose address hints fit (an address that
    /// differs is only a hint, so SPI-only matches come next), else the default SA.
    pub fn esp_for(&self, spi: u32, src: IpAddr, dst: IpAddr) -> impl Iterator<Item = &EspKeys> {
        let by_spi = self.esp.get(&spi).map(Vec::as_slice).unwrap_or(&[]);
        let fits =
            move |k: &&EspKeys| k.src.is_none_or(|a| a == src) && k.dst.is_none_or(|a| a == dst);
        let first = by_spi.iter().filter(fits);
        let rest = by_spi.iter().filter(move |k| !fits(k));
        let default = if by_spi.is_empty() {
            self.esp_default.as_ref()
        } else {
            None
        };
        first.chain(rest).chain(default)
    }
}

fn fill(slot: &mut Option<Secret>, new: Option<Secret>) {
    if slot.is_none() {
        *slot = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            file: "k".into(),
            line: 1,
            format: Format::TcpdumpIkev2,
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = Secret::new(vec![0xde, 0xad, 0xbe, 0xef]);
        let shown = format!("{s:?}");
        assert_eq!(shown, "<4-byte key>");
        assert!(!shown.to_lowercase().contains("dead"));
    }

    #[test]
    fn one_direction_each_merges_into_one_sa() {
        let mut ring = KeyRing::default();
        let half = |ei: Option<u8>, er: Option<u8>| IkeV2Keys {
            spi_i: 1,
            spi_r: 2,
            encr: Some(Encr::AesCbc),
            integ: Some(Integ::HmacSha1_96),
            sk_ei: ei.map(|b| Secret::new(vec![b; 16])),
            sk_er: er.map(|b| Secret::new(vec![b; 16])),
            sk_ai: None,
            sk_ar: None,
            sk_d: None,
            origin: origin(),
        };
        ring.add_ikev2(half(Some(1), None));
        ring.add_ikev2(half(None, Some(2)));
        let k = &ring.ikev2[&(1, 2)];
        assert_eq!(k.sk_ei.as_ref().unwrap().bytes(), &[1; 16]);
        assert_eq!(k.sk_er.as_ref().unwrap().bytes(), &[2; 16]);
    }

    #[test]
    fn esp_keys_prefer_matching_addresses_but_spi_decides() {
        let mut ring = KeyRing::default();
        let key = |dst: &str, b: u8| EspKeys {
            spi: 7,
            src: None,
            dst: Some(dst.parse().unwrap()),
            encr: Encr::AesCbc,
            enc_key: Secret::new(vec![b; 16]),
            integ: Integ::HmacSha1_96,
            auth_key: Secret::new(vec![b; 20]),
            esn: None,
            seq_hi: None,
            origin: origin(),
        };
        ring.add_esp(key("192.0.2.1", 1));
        ring.add_esp(key("192.0.2.2", 2));
        let a = "198.51.100.1".parse().unwrap();
        let got: Vec<u8> = ring
            .esp_for(7, a, "192.0.2.2".parse().unwrap())
            .map(|k| k.enc_key.bytes()[0])
            .collect();
        assert_eq!(got, [2, 1]);
        assert_eq!(ring.esp_for(8, a, a).count(), 0);
    }

    #[test]
    fn key_lengths_include_the_salt() {
        assert!(Encr::AesGcm { icv: 16 }.key_len_ok(36));
        assert!(!Encr::AesGcm { icv: 16 }.key_len_ok(32));
        assert!(Encr::AesCcm { icv: 8 }.key_len_ok(19));
        assert!(Encr::AesCbc.key_len_ok(24));
        assert!(!Encr::AesCbc.key_len_ok(20));
        assert!(Encr::ChaCha20Poly1305.key_len_ok(36));
    }
}
