//! IKE SAs and their exchanges, as far as they can be followed without keys.
//!
//! An exchange is a message ID in one requester's message-ID space (IKEv2 keeps one per side,
//! RFC 7296 §2.2; IKEv1 uses one per exchange, RFC 2408 §3.1). Its messages are grouped into
//! steps: a message sent again by the same side with the same length is a retransmission of
//! that step (RFC 7296 §2.1: retransmissions are byte-identical; IKEv1 implementations resend
//! the same packet too). The SA's progress is one pure transition function, [`advance`].

use std::collections::VecDeque;
use std::net::IpAddr;

use super::nat;
use crate::event::codes::{ExchangeType, NotifyType, PayloadType};
use crate::event::ike::{
    Identification, IkeMessage, PayloadBody, Proposal, TrafficSelector, Transform,
};
use crate::event::{Event, Timestamp};

/// Most steps kept per exchange, exchanges per SA, times per step: enough to show a back-off.
const MAX_STEPS: usize = 8;
pub const MAX_EXCHANGES: usize = 32;
const MAX_TIMES: usize = 16;
const MAX_NOTIFIES: usize = 16;
/// Status notifies stop here, so the slots left keep room for the errors that matter (an
/// IKE_SA_INIT and an IKE_AUTH exchange alone carry a dozen different status types).
const MAX_STATUS_NOTIFIES: usize = 10;
/// Transforms an SA keeps of what was offered or chosen, all proposals together, and their
/// attributes, at most 16 a transform: enough for strongSwan's default offer (two proposals of
/// 33 and 35 transforms, one attribute at most each) and an IKEv1 Main Mode offer of twenty
/// transforms of seven attributes. A crafted 64 KiB SA payload decodes into some 400 KB of
/// proposals, which kept whole by each of 16 384 IKE SAs would be gigabytes; kept to these
/// caps it is under 10 KB.
const MAX_KEPT_TRANSFORMS: usize = 96;
const MAX_KEPT_ATTRIBUTES: usize = 256;
const MAX_KEPT_ATTRIBUTES_EACH: usize = 16;

/// IKEv2 IKE_AUTH responses whose SK ciphertext (IV, encrypted payloads, padding, ICV; the
/// decoder's `Encrypted::len`) is shorter than this cannot hold IDr and AUTH. The smallest that
/// can: IDr with an IPv4 address (12 bytes) + AUTH with a 20-byte MAC (28) = 40 bytes, in
/// AES-GCM (8-byte IV, 16-byte ICV, no block padding) = 64. The largest lone error notify
/// (8 bytes, padded to one 16-byte block, 16-byte IV, 32-byte HMAC-SHA2-512 ICV) is also 64,
/// so a response below 64 is certainly not IDr+AUTH; one at 64 is given the benefit of the doubt.
pub const AUTH_RESPONSE_MIN_SK: u32 = 64;

/// One message of an exchange and its retransmissions.
#[derive(Clone, Debug)]
pub struct Step {
    pub from: IpAddr,
    /// The sender's UDP port and the responder SPI/cookie the message carried: a copy that
    /// differs in either is another message, not a retransmission (a responder that restarted
    /// answers with a fresh cookie; a NAT or a second daemon shows a different port).
    pub sport: u16,
    pub rspi: u64,
    pub response: bool,
    pub len: u32,
    pub count: u32,
    pub times: Vec<Timestamp>,
    pub frames: Vec<u64>,
    pub last_ts: Timestamp,
    pub last_frame: u64,
    /// Transmissions that went as IP fragments.
    pub ip_fragmented: u32,
    pub dont_fragment: bool,
    pub ip_len: u32,
    pub encrypted: bool,
    /// SK/SKF payload length (IKEv2), for size reasoning about encrypted messages.
    pub sk_len: Option<u32>,
    /// Uses RFC 7383 IKE fragments.
    pub ike_fragments: bool,
    /// Clear notify types the message carried.
    pub notifies: Vec<NotifyType>,
    /// What keys showed the message to carry (`None`: not opened).
    pub inside: Option<Inside>,
}

/// What an encrypted message carried, in the terms an unanswered one needs: without keys an
/// empty INFORMATIONAL (a liveness check, RFC 7296 §1.4) and one that closes SAs look alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inside {
    /// Nothing (IKEv2) or an R-U-THERE / R-U-THERE-ACK notify (IKEv1, RFC 3706): liveness.
    Liveness,
    /// Delete payloads: of the IKE SA itself, and of Child SAs as (protocol, SPI), the SPI
    /// being the one the sender receives on (RFC 7296 §3.11).
    Delete { ike: bool, child: Vec<(u8, u32)> },
    /// Anything else (MOBIKE address updates, configuration): the payload types, with the
    /// notify type for notifies; IKEv1 HASH left out.
    Other(Vec<(PayloadType, Option<NotifyType>)>),
}

/// Child SA SPIs kept per Delete: a Delete naming hundreds is one event, not hundreds.
const MAX_DELETED_SPIS: usize = 8;

impl Inside {
    pub fn of(m: &IkeMessage) -> Option<Inside> {
        if !m.was_decrypted() {
            return None;
        }
        let payloads = m.inner_payloads();
        let (mut ike, mut child) = (false, Vec::new());
        for p in payloads {
            if let PayloadBody::Delete(d) = &p.body {
                if d.protocol == 1 {
                    ike = true;
                } else {
                    let room = MAX_DELETED_SPIS.saturating_sub(child.len());
                    child.extend(d.spis.iter().take(room).map(|&s| (d.protocol, s as u32)));
                }
            }
        }
        if ike || !child.is_empty() {
            return Some(Inside::Delete { ike, child });
        }
        let dpd = |p: &&crate::event::ike::Payload| {
            matches!(&p.body, PayloadBody::Notify(n)
                if matches!(n.notify_type, NotifyType::R_U_THERE | NotifyType::R_U_THERE_ACK))
        };
        let rest: Vec<_> = payloads
            .iter()
            .filter(|p| !matches!(p.body, PayloadBody::Hash { .. }))
            .map(|p| match &p.body {
                PayloadBody::Notify(n) => (p.payload_type, Some(n.notify_type)),
                _ => (p.payload_type, None),
            })
            .take(8)
            .collect();
        if rest.is_empty() || (m.version == 1 && payloads.iter().any(|p| dpd(&p))) {
            Some(Inside::Liveness)
        } else {
            Some(Inside::Other(rest))
        }
    }
}

impl Step {
    /// Seconds between consecutive transmissions.
    pub fn intervals(&self) -> Vec<f64> {
        self.times.windows(2).map(|w| w[1].since(w[0])).collect()
    }
}

#[derive(Clone, Debug)]
pub struct Exchange {
    pub msg_id: u32,
    pub exchange: ExchangeType,
    pub requester: IpAddr,
    pub steps: Vec<Step>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
}

impl Exchange {
    pub fn requests(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| !s.response)
    }
    pub fn responses(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.response)
    }
    pub fn answered(&self) -> bool {
        self.responses().next().is_some()
    }
    /// Total request transmissions.
    pub fn request_transmissions(&self) -> u32 {
        self.requests().map(|s| s.count).sum()
    }
    /// The last step, when it is a request nobody answered after.
    pub fn pending_request(&self) -> Option<&Step> {
        self.steps.last().filter(|s| !s.response)
    }
}

/// How an IKE SA stands at the end of what was seen, beyond its state: what the tunnel table
/// tells of each SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaEnd {
    /// Established, and its last request was answered (or nothing was asked).
    Up,
    /// Never got as far as established (its state says how far).
    Incomplete,
    /// A clear error notify ended it.
    Failed,
    /// A clear Delete ended it (sender and frame when the Delete was seen).
    Deleted { by: Option<(IpAddr, u64)> },
    /// Established, then its last request went unanswered though sent `count` times: the
    /// peer stopped answering (dead, restarted, or the path broke).
    Unanswered {
        from: IpAddr,
        count: u32,
        frame: u64,
    },
    /// A later IKE SA between the same peers was established (re-authentication, or a restart
    /// that started afresh). Set by the pair's log, which sees the SAs side by side.
    Replaced { by: u64 },
}

/// Transmissions of the last request before an established SA counts as no longer answered:
/// RFC 7296 §2.4 leaves the count to the implementation; strongSwan's first three copies go
/// within 7 s, Libreswan's within 1.5 s.
const UNANSWERED_AFTER: u32 = 3;

/// IKEv1: Informationals from one side in a row, the other side silent, before the peer
/// counts as no longer answering (Libreswan and strongSwan send an R-U-THERE every dpddelay and
/// give up after dpdtimeout, 3 to 4 of them with the defaults).
pub const V1_UNANSWERED_RUN: usize = 3;

/// Where an IKE SA stands. IKEv1 phase 1 and IKEv2 IKE_SA_INIT/IKE_AUTH progress share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaState {
    /// IKE_SA_INIT / MM1 / AM1 sent.
    Init,
    /// IKE_SA_INIT answered with an SA; IKEv1 MM2/MM4 or AM2 seen.
    KeysExchanged,
    /// IKE_AUTH / MM5 / AM3 sent.
    Authenticating,
    /// IKE_AUTH answered with something large enough for IDr+AUTH, or MM6 seen.
    Authenticated,
    /// Authenticated and then used (ESP, Child SAs, later exchanges): the SA is up.
    Established,
    /// A clear error notify ended it.
    Failed,
    /// Deleted (clear Delete) or replaced.
    Deleted,
}

/// What a message does to the SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    /// IKE_SA_INIT / phase-1 request.
    InitRequest,
    /// IKE_SA_INIT response with an SA payload, or a phase-1 key-exchange message.
    InitAccepted,
    /// A response that carries an error notify that kills the SA.
    Fatal,
    /// IKE_AUTH request / MM5 / AM3.
    AuthRequest,
    /// IKE_AUTH response that can hold IDr+AUTH / MM6.
    AuthAccepted,
    /// An IKE_AUTH response too small for IDr+AUTH.
    AuthSmall,
    /// A later exchange (CREATE_CHILD_SA, INFORMATIONAL, Quick Mode) answered, or ESP.
    Used,
    Delete,
    Other,
}

/// The SA state machine: one match over (state, message). Failed and Deleted are sticky.
pub fn advance(state: SaState, msg: Msg) -> SaState {
    use Msg as M;
    use SaState as S;
    match (state, msg) {
        (S::Failed, _) | (S::Deleted, _) => state,
        (_, M::Fatal) => S::Failed,
        (_, M::Delete) => S::Deleted,
        (S::Init, M::InitAccepted) => S::KeysExchanged,
        (S::Init | S::KeysExchanged, M::AuthRequest) => S::Authenticating,
        (S::Init | S::KeysExchanged | S::Authenticating, M::AuthAccepted) => S::Authenticated,
        (S::Authenticating, M::AuthSmall) => S::Authenticating,
        (S::Authenticated | S::Established, M::Used) => S::Established,
        // Capture started after the handshake: use proves the SA is up.
        (S::Init | S::KeysExchanged | S::Authenticating, M::Used) => S::Established,
        (s, _) => s,
    }
}

#[derive(Clone, Debug)]
pub struct SeenNotify {
    pub notify_type: NotifyType,
    pub from: IpAddr,
    pub exchange: ExchangeType,
    pub msg_id: u32,
    pub response: bool,
    pub frame: u64,
    pub ts: Timestamp,
    /// First bytes of the data (INVALID_KE_PAYLOAD's group, REDIRECT's gateway…).
    pub data: Vec<u8>,
}

/// The identities of an IKE SA's authentication exchange, first of each kind.
#[derive(Clone, Debug, Default)]
pub struct SaIds {
    /// IDi (IKEv2), or the initiator's ID (IKEv1 MM5/AM1).
    pub initiator: Option<Identification>,
    /// The IDr the initiator asked for (IKEv2 IKE_AUTH request, optional).
    pub requested: Option<Identification>,
    /// IDr (IKEv2), or the responder's ID (IKEv1 MM6/AM2).
    pub responder: Option<Identification>,
}

#[derive(Clone, Debug)]
pub struct IkeSa {
    pub version: u8,
    pub ispi: u64,
    pub rspi: u64,
    pub initiator: IpAddr,
    pub responder: IpAddr,
    pub initiator_port: u16,
    pub responder_port: u16,
    /// The first message seen was the responder's answer to an IKE_SA_INIT, Main or
    /// Aggressive Mode request the capture never saw: the capture started mid-exchange, or
    /// the request never crossed this point (a spoofed request: reflection).
    pub unsolicited: bool,
    /// Who sent the Delete that ended the SA: IKEv1's in clear, IKEv2's when keys opened it.
    pub deleted_by: Option<(IpAddr, u64)>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub first_frame: u64,
    pub last_frame: u64,
    /// IKEv1 phase-1 exchange (Main or Aggressive) when seen.
    pub phase1: Option<ExchangeType>,
    pub state: SaState,
    pub established_ts: Option<Timestamp>,
    pub authenticated_ts: Option<Timestamp>,
    pub exchanges: VecDeque<Exchange>,
    pub notifies: Vec<SeenNotify>,
    /// The first SA payload offered in clear and the one chosen (IKE_SA_INIT, phase 1).
    pub offered: Option<Vec<Proposal>>,
    pub offered_frame: u64,
    pub chosen: Option<Vec<Proposal>>,
    pub ke_group: Option<u16>,
    /// Size of the IKE_AUTH response's SK payload and its frame.
    pub auth_response_sk: Option<(u32, u64)>,
    /// The IKE_AUTH response was decrypted with the operator's keys: what it holds was seen,
    /// so nothing about it needs inferring from its size.
    pub auth_response_opened: bool,
    /// The traffic selectors (TSi, TSr) of the last IKE_AUTH or CREATE_CHILD_SA request whose
    /// inside keys revealed: what a TS_UNACCEPTABLE refused.
    pub offered_ts: Option<Box<(Vec<TrafficSelector>, Vec<TrafficSelector>)>>,
    /// The ESP/AH proposals of the last Child SA request (IKE_AUTH, CREATE_CHILD_SA, Quick
    /// Mode) whose inside keys revealed: what a NO_PROPOSAL_CHOSEN refused.
    pub offered_child: Option<Box<Vec<Proposal>>>,
    /// The identities the peers used, when seen (IKEv1 Aggressive Mode in clear; Main Mode and
    /// IKEv2 IKE_AUTH when keys opened them): what an authentication failure is about.
    pub ids: Option<Box<SaIds>>,
    pub used_after_auth: bool,
    pub child_exchanges: u32,
    pub ike_fragmentation_offered: [bool; 2],
    pub ike_fragments_used: bool,
    /// Last packet (IKE, or ESP while this SA is the pair's current one) from [initiator,
    /// responder].
    pub last_from: [Option<Timestamp>; 2],
    /// ICMP errors that quoted this SA's IKE messages (they are an answer of sorts).
    pub icmp_errors: u32,
}

impl IkeSa {
    pub fn new(
        version: u8,
        ispi: u64,
        initiator: (IpAddr, u16),
        responder: (IpAddr, u16),
        ts: Timestamp,
        frame: u64,
    ) -> Self {
        IkeSa {
            version,
            ispi,
            rspi: 0,
            initiator: initiator.0,
            responder: responder.0,
            initiator_port: initiator.1,
            responder_port: responder.1,
            unsolicited: false,
            deleted_by: None,
            first_ts: ts,
            last_ts: ts,
            first_frame: frame,
            last_frame: frame,
            phase1: None,
            state: SaState::Init,
            established_ts: None,
            authenticated_ts: None,
            exchanges: VecDeque::new(),
            notifies: Vec::new(),
            offered: None,
            offered_frame: 0,
            chosen: None,
            ke_group: None,
            auth_response_sk: None,
            auth_response_opened: false,
            offered_ts: None,
            offered_child: None,
            ids: None,
            used_after_auth: false,
            child_exchanges: 0,
            ike_fragmentation_offered: [false; 2],
            ike_fragments_used: false,
            last_from: [None; 2],
            icmp_errors: 0,
        }
    }

    pub fn established(&self) -> bool {
        self.established_ts.is_some()
    }

    pub fn exchange(&self, msg_id: u32, requester: IpAddr) -> Option<&Exchange> {
        // (IKEv1 callers that need the exchange type filter the result themselves.)
        self.exchanges
            .iter()
            .rev()
            .find(|x| x.msg_id == msg_id && (self.version == 1 || x.requester == requester))
    }

    pub fn has_notify(&self, t: NotifyType) -> bool {
        self.notifies.iter().any(|n| n.notify_type == t)
    }

    /// The phase-1 / IKE_SA_INIT exchange.
    pub fn init_exchange(&self) -> Option<&Exchange> {
        self.exchanges.iter().find(|x| {
            x.msg_id == 0
                && matches!(
                    x.exchange,
                    ExchangeType::IKE_SA_INIT | ExchangeType::MAIN | ExchangeType::AGGRESSIVE
                )
        })
    }

    /// How the SA stands now (all but [`SaEnd::Replaced`], which needs the other SAs).
    pub fn end(&self) -> SaEnd {
        match self.state {
            SaState::Failed => return SaEnd::Failed,
            SaState::Deleted => {
                return SaEnd::Deleted {
                    by: self.deleted_by,
                };
            }
            _ if !self.established() => return SaEnd::Incomplete,
            _ => {}
        }
        if let Some((from, run)) = self.v1_silent_run()
            && run.len() >= V1_UNANSWERED_RUN
        {
            let frame = run[0].steps.first().and_then(|s| s.frames.first());
            return SaEnd::Unanswered {
                from,
                count: run.len() as u32,
                frame: frame.copied().unwrap_or(0),
            };
        }
        let last = self.exchanges.iter().max_by_key(|x| x.first_ts);
        match last.and_then(|x| x.pending_request().map(|r| (x, r))) {
            Some((x, r)) if r.count >= UNANSWERED_AFTER && !x.steps.iter().any(|s| s.response) => {
                SaEnd::Unanswered {
                    from: r.from,
                    count: r.count,
                    frame: r.frames.first().copied().unwrap_or(r.last_frame),
                }
            }
            _ => SaEnd::Up,
        }
    }

    /// IKEv1 has no responses to Informationals (RFC 2408 §4.8): a liveness check is answered
    /// by one of the other side's own (R-U-THERE-ACK, RFC 3706). The trailing run of
    /// Informationals one side sent after the other side's last message, leaving out those
    /// keys showed to be Deletes or anything but a liveness check, with the side that sent
    /// them; `None` for IKEv2, or when the last exchange is not such an Informational.
    pub fn v1_silent_run(&self) -> Option<(IpAddr, Vec<&Exchange>)> {
        let last = self
            .exchanges
            .back()
            .filter(|x| self.version == 1 && x.exchange == ExchangeType::INFORMATIONAL_V1)?;
        let who = last.requester;
        let other_last = self
            .exchanges
            .iter()
            .flat_map(|x| x.steps.iter())
            .filter(|s| s.from != who)
            .map(|s| s.last_ts)
            .max();
        let run =
            self.exchanges
                .iter()
                .filter(|x| {
                    x.exchange == ExchangeType::INFORMATIONAL_V1
                        && x.requester == who
                        && other_last.is_none_or(|o| x.first_ts > o)
                        && !x.steps.iter().any(|s| {
                            matches!(s.inside, Some(Inside::Delete { .. } | Inside::Other(_)))
                        })
                })
                .collect();
        Some((who, run))
    }

    /// An answer nobody on this side asked for and nobody went on with: the SA began with the
    /// responder's answer and the initiator has sent nothing since (a reflection, or a request
    /// that never crossed the capture point). What such an answer says is about the responder,
    /// not about a tunnel of the initiator's.
    pub fn unasked(&self) -> bool {
        self.unsolicited && self.last_from[0].is_none()
    }

    /// The other end of the SA from `addr` (the initiator for anyone but the initiator).
    pub fn peer_of(&self, addr: IpAddr) -> IpAddr {
        if addr == self.initiator {
            self.responder
        } else {
            self.initiator
        }
    }

    /// Notes a packet from `from` at `ts`; returns the silence it ended (seconds).
    pub fn heard(&mut self, from: IpAddr, ts: Timestamp) -> f64 {
        let i = usize::from(from != self.initiator);
        let gap = self.last_from[i].map_or(0.0, |l| ts.since(l).max(0.0));
        self.last_from[i] = Some(ts);
        gap
    }

    pub fn set_state(&mut self, msg: Msg, ts: Timestamp) {
        let before = self.state;
        self.state = advance(self.state, msg);
        if self.state == SaState::Authenticated && before != SaState::Authenticated {
            self.authenticated_ts = Some(ts);
        }
        if self.state == SaState::Established && self.established_ts.is_none() {
            self.established_ts = Some(ts);
        }
    }
}

/// Where a message landed in its SA: the exchange index and step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub exchange: usize,
    pub step: usize,
    /// This transmission's number within its step (1 = first).
    pub transmission: u32,
}

/// Facts about a message that the tracker passes in (the event's IP layer and the message).
pub struct Wire<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ts: Timestamp,
    pub frame: u64,
    pub ip_len: u32,
    pub ip_fragments: u16,
    pub dont_fragment: bool,
    pub sport: u16,
    pub msg: &'a IkeMessage,
}

impl IkeSa {
    /// Files a message under its exchange and step.
    pub fn place(&mut self, w: &Wire<'_>) -> Placed {
        let m = w.msg;
        let response_v2 = self.is_response_v2(w.src, m);
        let requester = if m.version == 2 {
            if response_v2 { w.dst } else { w.src }
        } else if m.message_id == 0
            && matches!(m.exchange, ExchangeType::MAIN | ExchangeType::AGGRESSIVE)
        {
            // Phase 1 is always the initiator's request, even when the capture starts at the
            // responder's answer (or holds only answers, as in a reflection attack).
            self.initiator
        } else {
            // Other IKEv1 exchanges: whoever sent the exchange's first message.
            self.exchanges
                .iter()
                .rev()
                .find(|x| x.msg_id == m.message_id && x.exchange == m.exchange)
                .map(|x| x.requester)
                .unwrap_or(w.src)
        };
        let idx = match self
            .exchanges
            .iter()
            // IKEv1 reuses message ID 0 for Main/Aggressive Mode and unprotected
            // Informationals: the exchange type tells them apart.
            .rposition(|x| {
                x.msg_id == m.message_id
                    && x.requester == requester
                    && (m.version == 2 || x.exchange == m.exchange)
            }) {
            Some(i) => i,
            None => {
                if self.exchanges.len() >= MAX_EXCHANGES {
                    self.exchanges.pop_front();
                }
                self.exchanges.push_back(Exchange {
                    msg_id: m.message_id,
                    exchange: m.exchange,
                    requester,
                    steps: Vec::new(),
                    first_ts: w.ts,
                    last_ts: w.ts,
                });
                self.exchanges.len() - 1
            }
        };
        let x = &mut self.exchanges[idx];
        if w.ts > x.last_ts {
            x.last_ts = w.ts;
        }
        let response = if m.version == 2 {
            response_v2
        } else {
            w.src != requester
        };
        let len = m.length.max(m.wire_len);
        let sk_len = m.payloads.iter().find_map(|p| match p.body {
            PayloadBody::Encrypted { len, .. } | PayloadBody::EncryptedFragment { len, .. } => {
                Some(len)
            }
            _ => None,
        });
        let ike_fragments = !m.reassembled_from.is_empty()
            || m.payloads
                .iter()
                .any(|p| matches!(p.body, PayloadBody::EncryptedFragment { .. }));
        let step_idx = x.steps.iter().rposition(|s| {
            s.from == w.src
                && s.response == response
                && s.len == len
                && s.rspi == m.rspi
                && s.sport == w.sport
        });
        let step_idx = match step_idx {
            Some(i) => i,
            None => {
                if x.steps.len() >= MAX_STEPS {
                    x.steps.remove(0);
                }
                x.steps.push(Step {
                    from: w.src,
                    sport: w.sport,
                    rspi: m.rspi,
                    response,
                    len,
                    count: 0,
                    times: Vec::new(),
                    frames: Vec::new(),
                    last_ts: w.ts,
                    last_frame: w.frame,
                    ip_fragmented: 0,
                    dont_fragment: w.dont_fragment,
                    ip_len: w.ip_len,
                    encrypted: m.encrypted,
                    sk_len,
                    ike_fragments,
                    notifies: m.notifies().map(|n| n.notify_type).take(8).collect(),
                    inside: None,
                });
                x.steps.len() - 1
            }
        };
        let s = &mut x.steps[step_idx];
        s.count += 1;
        if s.inside.is_none() {
            s.inside = Inside::of(m);
        }
        if s.times.len() < MAX_TIMES {
            // Messages rebuilt from a fragment set that never completed arrive late, with their
            // first fragment's time: keep the times in order.
            let at = s.times.partition_point(|t| *t <= w.ts);
            s.times.insert(at, w.ts);
            s.frames.insert(at, w.frame);
        }
        if w.ts >= s.last_ts {
            s.last_ts = w.ts;
            s.last_frame = w.frame;
        }
        if w.ip_fragments > 0 {
            s.ip_fragmented += 1;
        }
        s.dont_fragment |= w.dont_fragment;
        Placed {
            exchange: idx,
            step: step_idx,
            transmission: s.count,
        }
    }

    /// Whether an IKEv2 message is a response. IKE_SA_INIT is always the original initiator's
    /// request and the responder's answer (RFC 7296 §1.2), so there the SA's roles decide and a
    /// wrong R flag does not turn a request into a response (which would file the answer to it,
    /// a cookie challenge say, as a request of the other side). Other exchanges go either way:
    /// only the flag can tell.
    pub fn is_response_v2(&self, src: IpAddr, m: &IkeMessage) -> bool {
        if m.exchange == ExchangeType::IKE_SA_INIT && self.initiator != self.responder {
            src == self.responder
        } else {
            m.is_response()
        }
    }

    pub fn record_notifies(&mut self, w: &Wire<'_>, response: bool) {
        for nt in w.msg.notifies() {
            if self.notifies.len() >= MAX_NOTIFIES {
                break;
            }
            if nt.notify_type.is_status() && self.notifies.len() >= MAX_STATUS_NOTIFIES {
                continue;
            }
            // Status notifies that repeat in every message are not worth a slot each.
            if self
                .notifies
                .iter()
                .any(|o| o.notify_type == nt.notify_type && o.from == w.src)
                && nt.notify_type.is_status()
            {
                continue;
            }
            self.notifies.push(SeenNotify {
                notify_type: nt.notify_type,
                from: w.src,
                exchange: w.msg.exchange,
                msg_id: w.msg.message_id,
                response,
                frame: w.frame,
                ts: w.ts,
                data: nt.data.iter().copied().take(32).collect(),
            });
        }
    }
}

/// What one message did to its SA, for the pair's counters and the rules.
pub struct Taken {
    pub placed: Placed,
    /// The silence from the sender that this message ended (seconds).
    pub gap: f64,
    /// Response time in microseconds, when this is the first copy of a response.
    pub rtt_us: Option<u64>,
    /// A Child SA exchange (IKEv2 CREATE_CHILD_SA, IKEv1 Quick Mode) answered for the first
    /// time: how many the SA has had, this one included.
    pub child_exchanges: Option<u32>,
    pub transition: Option<(SaState, SaState)>,
    /// Delete payloads in the message (in clear).
    pub deletes: u32,
    /// The SA is authenticated or established after it.
    pub now_up: bool,
    /// The traffic selectors (TSi, TSr) a Child SA response agreed, when keys opened it:
    /// what the tunnel must carry from now on.
    pub selectors: Option<(Vec<TrafficSelector>, Vec<TrafficSelector>)>,
    /// NAT-D verdict: (sender behind NAT, receiver behind NAT).
    pub nat: Option<(Option<bool>, Option<bool>)>,
}

impl IkeSa {
    /// Takes in one message of this SA: files it under its exchange and step, records what it
    /// offered, chose and notified, and moves the state machine. `first_fragment_only`: the
    /// message is the IKE header of a first IP fragment whose set never completed.
    pub fn take(&mut self, ev: &Event, m: &IkeMessage, first_fragment_only: bool) -> Taken {
        let (src, dst, ts) = (ev.flow.src, ev.flow.dst, ev.pkt.ts);
        if ts > self.last_ts {
            self.last_ts = ts;
        }
        self.last_frame = ev.pkt.frame;
        if m.rspi != 0 {
            self.rspi = m.rspi;
        }
        // Latest ports: after the NAT-T float the SA lives on 4500 (or NAT-assigned ports).
        if src == self.initiator {
            (self.initiator_port, self.responder_port) = (ev.flow.sport, ev.flow.dport);
        } else if src == self.responder {
            (self.responder_port, self.initiator_port) = (ev.flow.sport, ev.flow.dport);
        }
        let gap = self.heard(src, ts);
        let wire = Wire {
            src,
            dst,
            ts,
            frame: ev.pkt.frame,
            ip_len: if first_fragment_only {
                m.length.saturating_add(28)
            } else {
                ev.ip.total_len
            },
            ip_fragments: if first_fragment_only {
                1
            } else {
                ev.ip.fragments
            },
            dont_fragment: ev.ip.dont_fragment,
            sport: ev.flow.sport,
            msg: m,
        };
        let placed = self.place(&wire);
        let x = &self.exchanges[placed.exchange];
        let step = &x.steps[placed.step];
        let response = step.response;
        let from_initiator = src == self.initiator;
        // Response time: from the last request transmission before this first response.
        let mut rtt = None;
        if response && placed.transmission == 1 {
            rtt = x
                .steps
                .iter()
                .filter(|s| !s.response && s.last_ts <= ts)
                .map(|s| s.last_ts)
                .max()
                .map(|t| ts.nanos_since(t) / 1000);
        }
        // The sender's ordinal among its own distinct messages in this exchange (1-based).
        let ordinal = x.steps[..=placed.step]
            .iter()
            .filter(|s| s.from == src)
            .count();
        let exchange = x.exchange;
        let (step_sk_len, step_ike_fragments) = (step.sk_len, step.ike_fragments);
        self.record_notifies(&wire, response);
        if m.has_notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED) {
            self.ike_fragmentation_offered[usize::from(!from_initiator)] = true;
        }
        self.ike_fragments_used |= step_ike_fragments;
        if let Some(props) = m.proposals() {
            let phase1 = matches!(
                exchange,
                ExchangeType::IKE_SA_INIT | ExchangeType::MAIN | ExchangeType::AGGRESSIVE
            );
            if phase1 && !response && self.offered.is_none() {
                self.offered = Some(kept_proposals(props.iter(), 32));
                self.offered_frame = ev.pkt.frame;
            } else if phase1 && response {
                self.chosen = Some(kept_proposals(props.iter(), 4));
            }
        }
        if !response {
            for p in m.trusted_payloads() {
                if let PayloadBody::Ke { group, .. } = p.body
                    && group != 0
                {
                    self.ke_group = Some(group);
                }
            }
        }
        if matches!(
            exchange,
            ExchangeType::IKE_AUTH | ExchangeType::MAIN | ExchangeType::AGGRESSIVE
        ) {
            for p in m.trusted_payloads().iter().chain(m.inner_payloads()) {
                let PayloadBody::Id(id) = &p.body else {
                    continue;
                };
                let ids = self.ids.get_or_insert_with(Box::default);
                let slot = if !from_initiator {
                    &mut ids.responder
                } else if m.version == 2 && p.payload_type == PayloadType::IDR {
                    &mut ids.requested
                } else {
                    &mut ids.initiator
                };
                if slot.is_none() {
                    *slot = Some(id.clone());
                }
            }
        }
        if m.version == 1 && matches!(exchange, ExchangeType::MAIN | ExchangeType::AGGRESSIVE) {
            self.phase1 = Some(exchange);
        }
        let nat = nat_verdict(self, m, ev);
        let msg = classify(self, m, exchange, response, ordinal, step_sk_len);
        if exchange == ExchangeType::IKE_AUTH && response && m.version == 2 {
            if let Some(len) = step_sk_len {
                self.auth_response_sk = Some((len, ev.pkt.frame));
            }
            self.auth_response_opened |= m.was_decrypted();
        }
        if !response
            && matches!(
                exchange,
                ExchangeType::IKE_AUTH | ExchangeType::CREATE_CHILD_SA
            )
            && m.was_decrypted()
        {
            let ts = |t: PayloadType| {
                m.inner_payloads().iter().find_map(|p| match &p.body {
                    PayloadBody::TrafficSelectors(v) if p.payload_type == t => {
                        Some(v.iter().take(8).cloned().collect::<Vec<_>>())
                    }
                    _ => None,
                })
            };
            if let (Some(i), Some(r)) = (ts(PayloadType::TSI), ts(PayloadType::TSR)) {
                self.offered_ts = Some(Box::new((i, r)));
            }
        }
        let child_request = match m.version {
            2 => matches!(
                exchange,
                ExchangeType::IKE_AUTH | ExchangeType::CREATE_CHILD_SA
            ),
            _ => exchange == ExchangeType::QUICK,
        };
        if !response && child_request && m.was_decrypted() {
            let offered = kept_proposals(
                m.inner_payloads()
                    .iter()
                    .filter_map(|p| match &p.body {
                        PayloadBody::Sa(v) => Some(v),
                        _ => None,
                    })
                    .flatten()
                    .filter(|p| matches!(p.protocol, 2 | 3)),
                8,
            );
            if !offered.is_empty() {
                self.offered_child = Some(Box::new(offered));
            }
        }
        let selectors = if response && m.was_decrypted() {
            agreed_selectors(m, exchange)
        } else {
            None
        };
        let counts_child =
            (m.version == 2 && exchange == ExchangeType::CREATE_CHILD_SA && response)
                || (m.version == 1 && exchange == ExchangeType::QUICK && response && ordinal == 1);
        if counts_child && placed.transmission == 1 {
            self.child_exchanges += 1;
        }
        if matches!(msg, Msg::Used) && self.state >= SaState::Authenticated {
            self.used_after_auth = true;
        }
        let before = self.state;
        self.set_state(msg, ts);
        if matches!(msg, Msg::Delete) && self.deleted_by.is_none() {
            self.deleted_by = Some((src, ev.pkt.frame));
        }
        let transition = (before != self.state).then_some((before, self.state));
        let deletes = m
            .trusted_payloads()
            .iter()
            .chain(m.inner_payloads())
            .filter(|p| matches!(p.body, PayloadBody::Delete(_)))
            .count() as u32;
        let now_up = matches!(self.state, SaState::Authenticated | SaState::Established);
        Taken {
            placed,
            gap,
            rtt_us: rtt,
            child_exchanges: (counts_child && placed.transmission == 1)
                .then_some(self.child_exchanges),
            transition,
            deletes,
            now_up,
            nat,
            selectors,
        }
    }
}

/// The selectors a Child SA response agreed: IKEv2 TSi/TSr (RFC 7296 §2.9: the responder's
/// narrowed choice), IKEv1 Quick Mode IDci/IDcr (RFC 2409 §5.5, echoed in the response). A
/// response without them (an error, an IKE SA rekey) agrees none.
fn agreed_selectors(
    m: &IkeMessage,
    exchange: ExchangeType,
) -> Option<(Vec<TrafficSelector>, Vec<TrafficSelector>)> {
    let inner = m.inner_payloads();
    if m.version == 2 {
        if !matches!(
            exchange,
            ExchangeType::IKE_AUTH | ExchangeType::CREATE_CHILD_SA
        ) {
            return None;
        }
        let ts = |t: PayloadType| {
            inner.iter().find_map(|p| match &p.body {
                PayloadBody::TrafficSelectors(v) if p.payload_type == t => Some(v.clone()),
                _ => None,
            })
        };
        return Some((ts(PayloadType::TSI)?, ts(PayloadType::TSR)?));
    }
    if exchange != ExchangeType::QUICK || m.notifies().any(|n| n.notify_type.is_error()) {
        return None;
    }
    let mut ids = inner.iter().filter_map(|p| match &p.body {
        PayloadBody::Id(id) => id.as_selector(),
        _ => None,
    });
    Some((vec![ids.next()?], vec![ids.next()?]))
}

/// What a message means for its SA's state machine.
fn classify(
    sa: &IkeSa,
    m: &IkeMessage,
    exchange: ExchangeType,
    response: bool,
    ordinal: usize,
    sk_len: Option<u32>,
) -> Msg {
    if m.version == 2 {
        let clear_error = m.notifies().any(|nt| {
            !nt.notify_type.is_status() && nt.notify_type != NotifyType::INVALID_KE_PAYLOAD
        });
        return match (exchange, response) {
            (ExchangeType::IKE_SA_INIT, false) => Msg::InitRequest,
            (ExchangeType::IKE_SA_INIT, true) if clear_error => Msg::Fatal,
            (ExchangeType::IKE_SA_INIT, true) if m.proposals().is_some() => Msg::InitAccepted,
            (ExchangeType::IKE_AUTH, false) => Msg::AuthRequest,
            (ExchangeType::IKE_AUTH, true) if clear_error && !m.encrypted => Msg::Fatal,
            // Opened with keys: AUTH inside is authentication passed, an error without it is
            // the refusal itself (EAP rounds carry neither).
            (ExchangeType::IKE_AUTH, true) if m.was_decrypted() => {
                if m.inner_payloads()
                    .iter()
                    .any(|p| p.payload_type == PayloadType::AUTH)
                {
                    Msg::AuthAccepted
                } else if clear_error {
                    Msg::Fatal
                } else {
                    Msg::Other
                }
            }
            (ExchangeType::IKE_AUTH, true) => match sk_len {
                Some(l) if l >= AUTH_RESPONSE_MIN_SK => Msg::AuthAccepted,
                Some(_) => Msg::AuthSmall,
                None => Msg::Other,
            },
            // Opened with keys: a Delete of the IKE SA itself (protocol 1) ends it, and who
            // sent it is known (without keys an INFORMATIONAL could be DPD or a Delete).
            (ExchangeType::INFORMATIONAL, false)
                if m.inner_payloads()
                    .iter()
                    .any(|p| matches!(&p.body, PayloadBody::Delete(d) if d.protocol == 1)) =>
            {
                Msg::Delete
            }
            (ExchangeType::CREATE_CHILD_SA | ExchangeType::INFORMATIONAL, true) => Msg::Used,
            _ => Msg::Other,
        };
    }
    let deletes_isakmp = m
        .trusted_payloads()
        .iter()
        .any(|p| matches!(&p.body, PayloadBody::Delete(d) if d.protocol == 1));
    match exchange {
        ExchangeType::MAIN => match (response, ordinal) {
            (false, 1) => Msg::InitRequest,
            (true, 1) if m.proposals().is_some() => Msg::InitAccepted,
            (false, 3) => Msg::AuthRequest,
            (true, 3) => Msg::AuthAccepted,
            _ => Msg::Other,
        },
        ExchangeType::AGGRESSIVE => match (response, ordinal) {
            (false, 1) => Msg::InitRequest,
            (true, 1) => Msg::InitAccepted,
            (false, 2) => Msg::AuthRequest,
            _ => Msg::Other,
        },
        ExchangeType::QUICK if response => Msg::Used,
        ExchangeType::TRANSACTION if response && sa.state >= SaState::Authenticating => Msg::Used,
        ExchangeType::INFORMATIONAL_V1 if deletes_isakmp => Msg::Delete,
        // An unprotected IKEv1 notification does not end the SA (RFC 2408 §5.5: it may be
        // forged, and implementations carry on): the rules report it, the state follows the
        // exchange.
        _ => Msg::Other,
    }
}

/// Checks NAT-D data against the wire: (sender behind NAT, receiver behind NAT).
fn nat_verdict(sa: &IkeSa, m: &IkeMessage, ev: &Event) -> Option<(Option<bool>, Option<bool>)> {
    let wsrc = (ev.flow.src, ev.flow.sport);
    let wdst = (ev.flow.dst, ev.flow.dport);
    let v = if m.version == 2 {
        let srcs: Vec<&[u8]> = m
            .notifies()
            .filter(|x| x.notify_type == NotifyType::NAT_DETECTION_SOURCE_IP)
            .map(|x| x.data.as_slice())
            .collect();
        let dst = m
            .notifies()
            .find(|x| x.notify_type == NotifyType::NAT_DETECTION_DESTINATION_IP)
            .map(|x| x.data.as_slice());
        if srcs.is_empty() && dst.is_none() {
            return None;
        }
        // In the IKE_SA_INIT request the responder SPI is still zero.
        nat::check(m.ispi, m.rspi, wsrc, wdst, &srcs, dst)
    } else {
        let hashes: Vec<&[u8]> = m
            .trusted_payloads()
            .iter()
            .filter_map(|p| match &p.body {
                PayloadBody::NatDiscovery(h) => Some(h.as_slice()),
                _ => None,
            })
            .collect();
        let (first, rest) = hashes.split_first()?;
        let rspi = if m.rspi != 0 { m.rspi } else { sa.rspi };
        // RFC 3947 §3.2: the first NAT-D is the remote (destination) address.
        nat::check(m.ispi, rspi, wsrc, wdst, rest, Some(first))
    };
    if v.sender_translated.is_none() && v.receiver_translated.is_none() {
        return None;
    }
    Some((v.sender_translated, v.receiver_translated))
}

/// Up to `max` of `props`, within [`MAX_KEPT_TRANSFORMS`] and [`MAX_KEPT_ATTRIBUTES`]: what an
/// SA remembers of an SA payload (the rules read what is kept: a real offer fits whole; a
/// crafted one loses its tail).
fn kept_proposals<'a>(props: impl Iterator<Item = &'a Proposal>, max: usize) -> Vec<Proposal> {
    let mut budget = MAX_KEPT_TRANSFORMS;
    let mut attributes = MAX_KEPT_ATTRIBUTES;
    let mut out = Vec::new();
    for p in props.take(max) {
        let n = p.transforms.len().min(budget);
        if n == 0 && !p.transforms.is_empty() {
            break;
        }
        budget -= n;
        out.push(Proposal {
            number: p.number,
            protocol: p.protocol,
            spi: p.spi.clone(),
            transforms: p.transforms[..n]
                .iter()
                .map(|t| {
                    let n = t
                        .attributes
                        .len()
                        .min(MAX_KEPT_ATTRIBUTES_EACH)
                        .min(attributes);
                    attributes -= n;
                    Transform {
                        number: t.number,
                        transform_type: t.transform_type,
                        id: t.id,
                        attributes: t.attributes[..n].to_vec(),
                    }
                })
                .collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sa_keeps_a_bounded_part_of_a_crafted_offer() {
        use crate::event::codes::TransformType;
        use crate::event::ike::{Attribute, AttributeValue};
        let t = |attrs: usize| Transform {
            number: 1,
            transform_type: TransformType(1),
            id: 12,
            attributes: vec![
                Attribute {
                    attr_type: 14,
                    value: AttributeValue::Number(256),
                };
                attrs
            ],
        };
        let p = |transforms: Vec<Transform>| Proposal {
            number: 1,
            protocol: 1,
            spi: vec![],
            transforms,
        };
        let ordinary = p(vec![t(1), t(0), t(0), t(0)]);
        assert_eq!(
            kept_proposals([&ordinary].into_iter(), 32),
            vec![ordinary.clone()]
        );
        let crafted: Vec<Proposal> = (0..1000).map(|_| p(vec![t(3000); 200])).collect();
        let kept = kept_proposals(crafted.iter(), 32);
        let transforms: Vec<&Transform> = kept.iter().flat_map(|p| &p.transforms).collect();
        assert_eq!(transforms.len(), MAX_KEPT_TRANSFORMS);
        let attributes: usize = transforms.iter().map(|t| t.attributes.len()).sum();
        assert_eq!(attributes, MAX_KEPT_ATTRIBUTES);
        assert!(
            transforms
                .iter()
                .all(|t| t.attributes.len() <= MAX_KEPT_ATTRIBUTES_EACH)
        );
    }

    #[test]
    fn failure_and_delete_are_sticky() {
        let s = advance(SaState::Init, Msg::Fatal);
        assert_eq!(s, SaState::Failed);
        assert_eq!(advance(s, Msg::AuthAccepted), SaState::Failed);
        assert_eq!(advance(SaState::Established, Msg::Delete), SaState::Deleted);
        assert_eq!(advance(SaState::Deleted, Msg::Used), SaState::Deleted);
    }

    #[test]
    fn handshake_progress() {
        let mut s = SaState::Init;
        for m in [
            Msg::InitAccepted,
            Msg::AuthRequest,
            Msg::AuthAccepted,
            Msg::Used,
        ] {
            s = advance(s, m);
        }
        assert_eq!(s, SaState::Established);
        assert_eq!(
            advance(SaState::Authenticating, Msg::AuthSmall),
            SaState::Authenticating
        );
    }
}
