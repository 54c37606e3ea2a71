//! Decryption with the operator's keys (`--keys`): IKEv2 SK and SKF payloads, IKEv1 encrypted
//! messages and ESP, opened where the bytes still are, so the events that leave this stage
//! carry the inner payloads and packets and nothing downstream needs bytes or keys.
//!
//! The only state is byte-level, like reassembly's: IKEv1's CBC chain (the phase-1 IV comes
//! from the cleartext KE payloads, later IVs from the last ciphertext block) and the IKEv2
//! algorithms a key source did not name, learned from the cleartext IKE_SA_INIT response. Both
//! are kept only for SAs the key ring holds, so they are bounded by what the operator loaded.

pub mod cipher;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::esp::inner_packet;
use super::ike::{HEADER_LEN, v1, v2};
use crate::event::codes::{ExchangeType, PayloadType, TransformType};
use crate::event::ike::{Decrypted, IkeMessage, Integrity, PayloadBody, Proposal};
use crate::event::{EspDecrypted, EspInfo, Flow, LenField, LenSource};
use crate::keys::{Encr, EspKeys, Integ, KeyRing, Secret, V1Hash};
use cipher::Failure;

/// Counts for the end-of-run summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DecryptStats {
    pub ike_decrypted: u64,
    pub ike_integrity_failed: u64,
    pub ike_no_key: u64,
    pub esp_decrypted: u64,
    pub esp_integrity_failed: u64,
    pub esp_no_key: u64,
    /// Packets the snap length cut before their ICV: nothing to decrypt.
    pub truncated: u64,
}

/// Message IDs whose IKEv1 CBC chain is kept per SA, and ciphertexts remembered for
/// retransmissions; past these the oldest go.
const V1_MIDS: usize = 64;
const V1_SEEN: usize = 64;

pub struct Decryptor {
    ring: Arc<KeyRing>,
    /// (SPIi, SPIr) → the algorithms chosen in IKE_SA_INIT, for ring entries without them.
    v2_algs: HashMap<(u64, u64), (Encr, Integ)>,
    v1: HashMap<u64, V1Sa>,
    /// Plaintexts of SKF fragments by frame, until their message is reassembled; bounded by
    /// [`FRAGMENT_BYTES`], oldest out first (as the reassembler evicts its oldest sets).
    fragments: HashMap<u64, (Integrity, Vec<u8>)>,
    fragment_order: VecDeque<u64>,
    fragment_bytes: usize,
    buf: Vec<u8>,
    /// Per ESP SPI: the high-order sequence bits that opened its last packet (`None`: ESN
    /// off), when the key source did not say.
    esn: HashMap<u32, Option<u32>>,
    /// Some IKEv2 SA in the ring has SK_d: Child SA keys can be derived, so the nonces and
    /// Child SA offers they need are kept (nothing is kept otherwise).
    derive: bool,
    /// IKE_SA_INIT nonces (Ni, Nr) and PRF by initiator SPI, for the first Child SA's keys.
    init: HashMap<u64, InitFacts>,
    /// Per IKE SA: the last Child SA request opened (its ESP SPIs by proposal number, its
    /// nonce), until its response says what was chosen.
    child_request: HashMap<(u64, u64), ChildRequest>,
    /// ESP keys derived from SK_d (RFC 7296 §2.17), for SAs the key sources gave none.
    derived: HashMap<u32, EspKeys>,
    pub stats: DecryptStats,
}

/// SPIs whose ESN state is remembered; past it the memory starts afresh (a guess relearned).
const ESN_SPIS: usize = 4096;
/// IKE SAs whose nonces and Child SA requests are kept, and ESP SAs derived; past these the
/// tables start afresh.
const DERIVE_SAS: usize = 4096;

#[derive(Default)]
struct InitFacts {
    ni: Option<Vec<u8>>,
    nr: Option<Vec<u8>>,
    prf: Option<cipher::Prf>,
}

struct ChildRequest {
    spis: Vec<(u8, u32)>,
    nonce: Option<Vec<u8>>,
}

/// The high-order sequence bits to try for a packet, most likely first (RFC 4303 §2.2.1:
/// the ICV, or the AEAD's AAD, covers them though they are never sent). A key source that
/// gives them (ip xfrm's `seq-hi`) gives a snapshot: the packet may be from before or after a
/// wrap of the low 32 bits. One that says nothing may mean ESN off, or on and still in the
/// first 2^32 packets; once a value opened a packet of the SPI it is tried first.
fn esn_candidates(
    esn: Option<bool>,
    seq_hi: Option<u32>,
    learned: Option<Option<u32>>,
) -> impl Iterator<Item = Option<u32>> {
    // Outer `None`: no candidate in that place (ESP is the hot path: nothing is allocated).
    let around = |h: u32| {
        [
            Some(Some(h)),
            Some(Some(h.wrapping_add(1))),
            Some(Some(h.wrapping_sub(1))),
        ]
    };
    let tries = match (esn, learned, seq_hi) {
        (Some(false), _, _) | (_, Some(None), _) => [Some(None), None, None],
        (_, Some(Some(h)), _) | (_, None, Some(h)) => around(h),
        (Some(true), None, None) => around(0),
        (_, None, None) => [Some(None), Some(Some(0)), Some(Some(1))],
    };
    tries.into_iter().flatten()
}

/// Plaintext of SKF fragments held for reassembly, at most (the reassembler's own cap).
/// (The reassembler's own caps: 8 MiB, and 1024 sets of a few fragments.)
const FRAGMENT_BYTES: usize = 8 << 20;
const FRAGMENTS_HELD: usize = 4096;

/// One ISAKMP SA's CBC state. Both peers chain on the same ciphertext, so one state serves
/// every key tried, and a key that fails leaves the chain right for the next.
#[derive(Default)]
struct V1Sa {
    initiator: Option<(IpAddr, u16)>,
    encr: Option<Encr>,
    hash: Option<V1Hash>,
    gxi: Option<Vec<u8>>,
    gxr: Option<Vec<u8>>,
    /// The IV for the next phase-1 (message ID 0) encrypted message.
    p1_next: Option<Vec<u8>>,
    /// The last ciphertext block of phase 1: what later exchanges' first IVs hash.
    p1_last: Option<Vec<u8>>,
    /// Message ID → the IV for its next message.
    mids: VecDeque<(u32, Vec<u8>)>,
    /// Last ciphertext block of a message → the IV it was decrypted with: a retransmission
    /// (the same ciphertext again) reuses it rather than moving the chain on.
    seen: VecDeque<(Vec<u8>, Vec<u8>)>,
}

impl Decryptor {
    pub fn new(ring: Arc<KeyRing>) -> Self {
        let derive = ring.ikev2.values().any(|k| k.sk_d.is_some());
        Decryptor {
            ring,
            v2_algs: HashMap::new(),
            v1: HashMap::new(),
            fragments: HashMap::new(),
            fragment_order: VecDeque::new(),
            fragment_bytes: 0,
            buf: Vec::new(),
            esn: HashMap::new(),
            derive,
            init: HashMap::new(),
            child_request: HashMap::new(),
            derived: HashMap::new(),
            stats: DecryptStats::default(),
        }
    }

    /// Opens `msg` (decoded from `data`, which starts at the IKE header; `frame` carried it)
    /// when the ring has its keys, setting `msg.decrypted`. SKF fragments are opened one by
    /// one: their plaintext is kept for [`Decryptor::reassembled`] and the fragment's own
    /// `decrypted` has no payloads.
    pub fn ike(&mut self, flow: &Flow, frame: u64, data: &[u8], msg: &mut IkeMessage) {
        match msg.version {
            2 => {
                if self.derive && msg.exchange == ExchangeType::IKE_SA_INIT && !msg.encrypted {
                    self.learn_init(data, msg);
                }
                if let Some(plain) = self.ikev2(data, msg) {
                    let integrity = msg
                        .decrypted
                        .as_ref()
                        .map_or(Integrity::Ok, |d| d.integrity);
                    self.keep_fragment(frame, integrity, plain);
                }
            }
            1 => self.ikev1(flow, data, msg),
            _ => {}
        }
    }

    fn keep_fragment(&mut self, frame: u64, integrity: Integrity, plain: Vec<u8>) {
        // Frames already reassembled stay in the order list until they come round: the
        // count cap keeps it bounded too.
        while self.fragment_bytes + plain.len() > FRAGMENT_BYTES
            || self.fragment_order.len() >= FRAGMENTS_HELD
        {
            let Some(old) = self.fragment_order.pop_front() else {
                return;
            };
            if let Some((_, p)) = self.fragments.remove(&old) {
                self.fragment_bytes -= p.len();
            }
        }
        self.fragment_bytes += plain.len();
        self.fragment_order.push_back(frame);
        if let Some((_, p)) = self.fragments.insert(frame, (integrity, plain)) {
            self.fragment_bytes -= p.len();
        }
    }

    /// Fills a message reassembled from SKF fragments with the inside of its fragments,
    /// when every fragment was opened.
    pub fn reassembled(&mut self, whole: &mut IkeMessage) {
        let Some(inner_first) = whole.payloads.iter().find_map(|p| match p.body {
            PayloadBody::Encrypted {
                inner_first_payload,
                ..
            } => Some(inner_first_payload),
            _ => None,
        }) else {
            return;
        };
        let mut plain = Vec::new();
        let mut integrity = Integrity::Ok;
        for f in &whole.reassembled_from {
            let Some((i, p)) = self.fragments.remove(f) else {
                return;
            };
            self.fragment_bytes -= p.len();
            if i != Integrity::Ok {
                integrity = i;
            }
            plain.extend_from_slice(&p);
        }
        let mut d = Decrypted {
            integrity,
            payloads: Vec::new(),
            error: None,
        };
        d.error = v2::decode_payloads(
            PayloadType(inner_first),
            &plain,
            HEADER_LEN + 4,
            LenSource::Field(LenField::PayloadLength),
            &mut d.payloads,
        );
        whole.decrypted = Some(Box::new(d));
    }

    fn ikev2(&mut self, data: &[u8], msg: &mut IkeMessage) -> Option<Vec<u8>> {
        let spis = (msg.ispi, msg.rspi);
        let Some(keys) = self.ring.ikev2.get(&spis) else {
            if msg.encrypted && !self.ring.ikev2.is_empty() {
                self.stats.ike_no_key += 1;
            }
            return None;
        };
        if !msg.encrypted {
            if keys.encr.is_none() || keys.integ.is_none() {
                self.learn_v2(spis, msg);
            }
            return None;
        }
        // The IV follows the SK generic header, or SKF's fragment number and total (which the
        // AEAD AAD and the ICV cover, RFC 7383 §2.5).
        let (sk, iv_at, fragment, inner_first) = msg.payloads.iter().find_map(|p| {
            let at = p.offset as usize;
            match p.body {
                PayloadBody::Encrypted {
                    inner_first_payload,
                    ..
                } => Some((p, at + 4, false, inner_first_payload)),
                PayloadBody::EncryptedFragment {
                    inner_first_payload,
                    ..
                } => Some((p, at + 8, true, inner_first_payload)),
                _ => None,
            }
        })?;
        let end = sk.offset as usize + usize::from(sk.length);
        let Some(bytes) = data.get(..end) else {
            self.stats.truncated += 1;
            return None;
        };
        let learned = self.v2_algs.get(&spis).copied();
        let (Some(encr), Some(integ)) = (
            keys.encr.or(learned.map(|l| l.0)),
            keys.integ.or(learned.map(|l| l.1)),
        ) else {
            self.stats.ike_no_key += 1;
            return None;
        };
        let initiator = msg.from_original_initiator();
        let (ek, ak) = if initiator {
            (&keys.sk_ei, &keys.sk_ai)
        } else {
            (&keys.sk_er, &keys.sk_ar)
        };
        let Some(ek) = ek else {
            self.stats.ike_no_key += 1;
            return None;
        };
        let ak = ak.as_ref().map(|k| k.bytes()).unwrap_or_default();
        let result = cipher::open_ikev2(encr, integ, ek.bytes(), ak, bytes, iv_at, &mut self.buf);
        let integrity = match result {
            Ok(cipher::Integrity::Ok) => Integrity::Ok,
            Ok(cipher::Integrity::Unchecked) => Integrity::Unchecked,
            Err(Failure::TooShort) => {
                self.stats.truncated += 1;
                return None;
            }
            Err(_) => {
                self.stats.ike_integrity_failed += 1;
                msg.decrypted = Some(Box::new(Decrypted {
                    integrity: Integrity::Failed,
                    payloads: Vec::new(),
                    error: None,
                }));
                return None;
            }
        };
        self.stats.ike_decrypted += 1;
        let mut d = Decrypted {
            integrity,
            payloads: Vec::new(),
            error: None,
        };
        if fragment {
            msg.decrypted = Some(Box::new(d));
            return Some(self.buf.clone());
        }
        d.error = v2::decode_payloads(
            PayloadType(inner_first),
            &self.buf,
            iv_at,
            LenSource::Field(LenField::PayloadLength),
            &mut d.payloads,
        );
        if self.derive {
            let nonce = nonce_bytes(&d.payloads, &self.buf, iv_at);
            self.child_sa(spis, msg, &d.payloads, nonce);
        }
        msg.decrypted = Some(Box::new(d));
        None
    }

    /// IKE_SA_INIT in clear: its nonce and, in the response, the PRF chosen; what the first
    /// Child SA's keys are derived with.
    fn learn_init(&mut self, data: &[u8], msg: &IkeMessage) {
        if self.init.len() >= DERIVE_SAS && !self.init.contains_key(&msg.ispi) {
            self.init.clear();
        }
        let nonce = nonce_bytes(msg.trusted_payloads(), data, 0);
        let f = self.init.entry(msg.ispi).or_default();
        if msg.is_response() {
            f.nr = nonce.or(f.nr.take());
            if let Some(chosen) = msg.proposals().and_then(|p| p.first()) {
                f.prf = chosen
                    .transforms
                    .iter()
                    .find(|t| t.transform_type == TransformType::PRF)
                    .and_then(|t| v2_prf(t.id));
            }
        } else {
            f.ni = nonce.or(f.ni.take());
        }
    }

    /// A Child SA exchange opened with the keys (RFC 7296 §2.17): the request's ESP SPIs and
    /// nonce are kept; the response's choice, with SK_d and the nonces, gives both directions'
    /// keys. Not possible with PFS (a KE payload: the new DH secret is nobody's to give).
    fn child_sa(
        &mut self,
        spis: (u64, u64),
        msg: &IkeMessage,
        payloads: &[crate::event::ike::Payload],
        nonce: Option<Vec<u8>>,
    ) {
        if !matches!(
            msg.exchange,
            ExchangeType::IKE_AUTH | ExchangeType::CREATE_CHILD_SA
        ) {
            return;
        }
        let Some(props) = payloads.iter().find_map(|p| match &p.body {
            PayloadBody::Sa(v) => Some(v),
            _ => None,
        }) else {
            return;
        };
        let esp: Vec<(u8, u32)> = props
            .iter()
            .filter(|p| p.protocol == 3)
            .filter_map(|p| {
                Some((
                    p.number,
                    u32::from_be_bytes(p.spi.as_slice().try_into().ok()?),
                ))
            })
            .collect();
        let Some(&(_, spi_r)) = esp.first() else {
            return;
        };
        if !msg.is_response() {
            if self.child_request.len() >= DERIVE_SAS {
                self.child_request.clear();
            }
            self.child_request
                .insert(spis, ChildRequest { spis: esp, nonce });
            return;
        }
        let Some(req) = self.child_request.remove(&spis) else {
            return;
        };
        if payloads
            .iter()
            .any(|p| matches!(p.body, PayloadBody::Ke { .. }))
        {
            return;
        }
        let Some(chosen) = props.iter().find(|p| p.protocol == 3) else {
            return;
        };
        let Some(&(_, spi_i)) = req
            .spis
            .iter()
            .find(|(n, _)| *n == chosen.number)
            .or(req.spis.first())
        else {
            return;
        };
        let Some(init) = self.init.get(&spis.0) else {
            return;
        };
        let (ni, nr) = if msg.exchange == ExchangeType::IKE_AUTH {
            (init.ni.clone(), init.nr.clone())
        } else {
            (req.nonce, nonce)
        };
        let (Some(ni), Some(nr), Some(prf)) = (ni, nr, init.prf) else {
            return;
        };
        let Some(keys) = self.ring.ikev2.get(&spis) else {
            return;
        };
        let Some(sk_d) = &keys.sk_d else { return };
        let Some((encr, integ)) = v2_algorithms(chosen) else {
            return;
        };
        let bits = chosen
            .transforms
            .iter()
            .find(|t| t.transform_type == TransformType::ENCR)
            .and_then(|t| match t.attribute(14) {
                Some(crate::event::ike::AttributeValue::Number(n)) => Some(*n as usize),
                _ => None,
            });
        let ek = match encr {
            Encr::Null => 0,
            Encr::Des => 8,
            Encr::TripleDes => 24,
            Encr::ChaCha20Poly1305 => 36,
            _ => match bits {
                Some(b @ (128 | 192 | 256)) => b / 8 + encr.salt_len(),
                _ => return,
            },
        };
        let ak = integ.key_len().unwrap_or(0);
        let esn = chosen
            .transforms
            .iter()
            .filter(|t| t.transform_type == TransformType::ESN)
            .map(|t| t.id == 1)
            .next();
        let mut seed = ni;
        seed.extend_from_slice(&nr);
        let keymat = cipher::prf_plus(prf, sk_d.bytes(), &seed, 2 * (ek + ak));
        if keymat.len() < 2 * (ek + ak) {
            return;
        }
        let km = keymat.bytes();
        if self.derived.len() >= DERIVE_SAS {
            self.derived.clear();
        }
        // Initiator to responder first: the SPI the responder chose (RFC 7296 §2.17).
        for (spi, at) in [(spi_r, 0), (spi_i, ek + ak)] {
            self.derived.insert(
                spi,
                EspKeys {
                    spi,
                    src: None,
                    dst: None,
                    encr,
                    enc_key: Secret::new(km[at..at + ek].to_vec()),
                    integ,
                    auth_key: Secret::new(km[at + ek..at + ek + ak].to_vec()),
                    esn,
                    seq_hi: None,
                    origin: keys.origin.clone(),
                },
            );
        }
    }

    /// The ENCR and INTEG transforms the responder chose, from a cleartext IKE_SA_INIT response.
    fn learn_v2(&mut self, spis: (u64, u64), msg: &IkeMessage) {
        if !msg.is_response() || spis.1 == 0 {
            return;
        }
        let Some(chosen) = msg.proposals().and_then(|p| p.first()) else {
            return;
        };
        if let Some(algs) = v2_algorithms(chosen) {
            self.v2_algs.insert(spis, algs);
        }
    }

    fn ikev1(&mut self, flow: &Flow, data: &[u8], msg: &mut IkeMessage) {
        let Some(keys) = self.ring.ikev1.get(&msg.ispi) else {
            if msg.encrypted && !self.ring.ikev1.is_empty() {
                self.stats.ike_no_key += 1;
            }
            return;
        };
        let sa = self.v1.entry(msg.ispi).or_default();
        if msg.rspi == 0 && sa.initiator.is_none() {
            sa.initiator = Some((flow.src, flow.sport));
        }
        if !msg.encrypted {
            sa.learn(flow, data, msg);
            return;
        }
        let encr = keys.iter().find_map(|k| k.encr).or(sa.encr);
        let hash = keys.iter().find_map(|k| k.hash).or(sa.hash);
        let (Some(encr), Some(hash)) = (encr, hash) else {
            self.stats.ike_no_key += 1;
            return;
        };
        let block = cipher::block_len(encr);
        let end = (msg.length as usize).min(data.len());
        let ct = data.get(HEADER_LEN..end).unwrap_or_default();
        if ct.is_empty() || ct.len() % block != 0 {
            self.stats.truncated += 1;
            return;
        }
        let last = ct[ct.len() - block..].to_vec();
        let iv = if let Some((_, iv)) = sa.seen.iter().find(|(l, _)| *l == last) {
            iv.clone()
        } else if msg.message_id == 0 {
            match &sa.p1_next {
                Some(iv) => iv.clone(),
                None => match (&sa.gxi, &sa.gxr) {
                    (Some(i), Some(r)) => {
                        let mut h = Vec::new();
                        cipher::v1_hash(hash, &[i, r], &mut h);
                        h.truncate(block);
                        h
                    }
                    _ => {
                        self.stats.ike_no_key += 1;
                        return;
                    }
                },
            }
        } else if let Some((_, iv)) = sa.mids.iter().find(|(m, _)| *m == msg.message_id) {
            iv.clone()
        } else {
            let Some(p1) = &sa.p1_last else {
                self.stats.ike_no_key += 1;
                return;
            };
            let mut h = Vec::new();
            cipher::v1_hash(hash, &[p1, &msg.message_id.to_be_bytes()], &mut h);
            h.truncate(block);
            h
        };
        if !sa.seen.iter().any(|(l, _)| *l == last) {
            if sa.seen.len() >= V1_SEEN {
                sa.seen.pop_front();
            }
            sa.seen.push_back((last.clone(), iv.clone()));
            if msg.message_id == 0 {
                sa.p1_next = Some(last.clone());
                sa.p1_last = Some(last.clone());
            } else {
                sa.mids.retain(|(m, _)| *m != msg.message_id);
                if sa.mids.len() >= V1_MIDS {
                    sa.mids.pop_front();
                }
                sa.mids.push_back((msg.message_id, last));
            }
        }
        let mut next_iv = Vec::new();
        let mut found = None;
        for k in keys {
            if cipher::v1_decrypt(encr, k.key.bytes(), &iv, ct, &mut self.buf, &mut next_iv)
                .is_err()
            {
                continue;
            }
            let mut payloads = Vec::new();
            let err = v1::decode_payloads(
                msg.first_payload,
                &self.buf,
                HEADER_LEN,
                LenSource::Field(LenField::IkeLength),
                &mut payloads,
            );
            if err.is_none() && !payloads.is_empty() && v1_plausible(&payloads) {
                found = Some(payloads);
                break;
            }
        }
        match found {
            Some(payloads) => {
                self.stats.ike_decrypted += 1;
                msg.decrypted = Some(Box::new(Decrypted {
                    integrity: Integrity::Unchecked,
                    payloads,
                    error: None,
                }));
            }
            None => {
                self.stats.ike_integrity_failed += 1;
                msg.decrypted = Some(Box::new(Decrypted {
                    integrity: Integrity::Failed,
                    payloads: Vec::new(),
                    error: None,
                }));
            }
        }
    }

    /// Opens an ESP packet (`data` from the SPI to the end of what was captured) when the ring
    /// has a key for its SPI, setting `esp.decrypted`. Several candidate keys (same SPI on
    /// several address pairs) are tried until one verifies.
    pub fn esp(&mut self, flow: &Flow, data: &[u8], esp: &mut EspInfo) {
        if self.ring.esp.is_empty() && self.ring.esp_default.is_none() && self.derived.is_empty() {
            return;
        }
        let Some(bytes) = data.get(..esp.len as usize) else {
            self.stats.truncated += 1;
            return;
        };
        let mut tried = false;
        let learned = self.esn.get(&esp.spi).copied();
        // Keys a source gave first; one derived from SK_d only where none did.
        for k in self
            .ring
            .esp_for(esp.spi, flow.src, flow.dst)
            .chain(self.derived.get(&esp.spi))
        {
            tried = true;
            // Without an ICV the high bits change nothing: one attempt is all there is.
            let no_icv = matches!(k.integ, Integ::None) && !k.encr.is_aead();
            let his = esn_candidates(if no_icv { Some(false) } else { k.esn }, k.seq_hi, learned);
            let mut opened = None;
            for hi in his {
                match cipher::open_esp(
                    k.encr,
                    k.integ,
                    k.enc_key.bytes(),
                    k.auth_key.bytes(),
                    bytes,
                    hi,
                    &mut self.buf,
                ) {
                    Ok(r) => {
                        opened = Some(Ok(r));
                        if learned != Some(hi) {
                            if self.esn.len() >= ESN_SPIS {
                                self.esn.clear();
                            }
                            self.esn.insert(esp.spi, hi);
                        }
                        break;
                    }
                    Err(Failure::TooShort) => {
                        opened = Some(Err(Failure::TooShort));
                        break;
                    }
                    Err(_) => {}
                }
            }
            match opened.unwrap_or(Err(Failure::IntegrityFailed)) {
                Ok((integrity, next_header)) => {
                    let integrity = match integrity {
                        cipher::Integrity::Ok => Integrity::Ok,
                        cipher::Integrity::Unchecked => Integrity::Unchecked,
                    };
                    let inner = inner_packet(next_header, &self.buf, (flow.src, flow.dst));
                    // Without an ICV, only a plaintext that is exactly one well-formed packet
                    // (the NULL-encryption test's standard) shows the key is right.
                    if integrity == Integrity::Unchecked
                        && next_header != 59
                        && super::esp::inner(next_header, &self.buf).is_none()
                    {
                        continue;
                    }
                    self.stats.esp_decrypted += 1;
                    esp.decrypted = Some(Box::new(EspDecrypted {
                        integrity,
                        next_header,
                        inner,
                    }));
                    return;
                }
                Err(Failure::TooShort) => {
                    self.stats.truncated += 1;
                    return;
                }
                Err(_) => {}
            }
        }
        if tried {
            self.stats.esp_integrity_failed += 1;
            esp.decrypted = Some(Box::new(EspDecrypted {
                integrity: Integrity::Failed,
                next_header: 0,
                inner: None,
            }));
        } else {
            self.stats.esp_no_key += 1;
        }
    }
}

impl V1Sa {
    /// What cleartext phase-1 messages give the IV: the chosen transform (from the
    /// responder's SA) and both KE payloads.
    fn learn(&mut self, flow: &Flow, data: &[u8], msg: &IkeMessage) {
        if msg.message_id != 0 {
            return;
        }
        let from_initiator = match self.initiator {
            Some(i) => i == (flow.src, flow.sport),
            None => msg.rspi == 0,
        };
        for p in msg.trusted_payloads() {
            match &p.body {
                PayloadBody::Sa(props) if !from_initiator => {
                    if let Some((e, h)) = props.first().and_then(v1_transform) {
                        self.encr = Some(e);
                        self.hash = Some(h);
                    }
                }
                PayloadBody::Sa(props) if self.encr.is_none() => {
                    // The initiator's offer: right when it offered one transform only.
                    if let [only] = props.as_slice()
                        && only.transforms.len() == 1
                        && let Some((e, h)) = v1_transform(only)
                    {
                        self.encr = Some(e);
                        self.hash = Some(h);
                    }
                }
                PayloadBody::Ke { .. } => {
                    let at = p.offset as usize + 4;
                    let end = p.offset as usize + usize::from(p.length);
                    if let Some(k) = data.get(at..end) {
                        if from_initiator {
                            self.gxi = Some(k.to_vec());
                        } else {
                            self.gxr = Some(k.to_vec());
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// A decrypted IKEv1 chain is believed when it holds payloads an encrypted message carries
/// (IKEv1 has no ICV: a wrong key yields a chain that breaks, or by rare chance one of
/// unassigned types).
fn v1_plausible(payloads: &[crate::event::ike::Payload]) -> bool {
    payloads
        .iter()
        .all(|p| (1..=21).contains(&p.payload_type.0) || (128..=133).contains(&p.payload_type.0))
}

/// IKEv1 phase-1 transform attributes (RFC 2409 Appendix A): encryption 1 DES-CBC, 5 3DES-CBC,
/// 7 AES-CBC (with key length 14); hash 1 MD5, 2 SHA, 4 SHA2-256, 5 SHA2-384, 6 SHA2-512.
fn v1_transform(p: &Proposal) -> Option<(Encr, V1Hash)> {
    let t = p.transforms.first()?;
    let encr = match t.attribute(1)?.number()? {
        1 => Encr::Des,
        5 => Encr::TripleDes,
        7 => Encr::AesCbc,
        _ => return None,
    };
    let hash = match t.attribute(2)?.number()? {
        1 => V1Hash::Md5,
        2 => V1Hash::Sha1,
        4 => V1Hash::Sha256,
        5 => V1Hash::Sha384,
        6 => V1Hash::Sha512,
        _ => return None,
    };
    Some((encr, hash))
}

/// IKEv2 transform IDs (IANA "IKEv2 Parameters") to the algorithms, from a chosen proposal.
/// IKEv2 PRF transform IDs (RFC 7296 §3.3.2, RFC 4434, RFC 4615, RFC 4868).
fn v2_prf(id: u16) -> Option<cipher::Prf> {
    Some(match id {
        1 => cipher::Prf::HmacMd5,
        2 => cipher::Prf::HmacSha1,
        4 => cipher::Prf::AesXcbc,
        5 => cipher::Prf::HmacSha256,
        6 => cipher::Prf::HmacSha384,
        7 => cipher::Prf::HmacSha512,
        8 => cipher::Prf::AesCmac,
        _ => return None,
    })
}

/// The data of the first Nonce payload among `payloads`, whose offsets count from the IKE
/// header with `bytes` starting at offset `base`.
fn nonce_bytes(
    payloads: &[crate::event::ike::Payload],
    bytes: &[u8],
    base: usize,
) -> Option<Vec<u8>> {
    let p = payloads
        .iter()
        .find(|p| matches!(p.body, PayloadBody::Nonce { .. }))?;
    let at = (p.offset as usize).checked_sub(base)? + 4;
    let end = (p.offset as usize).checked_sub(base)? + usize::from(p.length);
    bytes.get(at..end).map(<[u8]>::to_vec)
}

fn v2_algorithms(p: &Proposal) -> Option<(Encr, Integ)> {
    let mut encr = None;
    let mut integ = Integ::None;
    for t in &p.transforms {
        match t.transform_type {
            TransformType::ENCR => encr = Some(Encr::from_ikev2_id(t.id)?),
            TransformType::INTEG => integ = Integ::from_ikev2_id(t.id)?,
            _ => {}
        }
    }
    Some((encr?, integ))
}
