//! Hand-made event sequences for unit tests of the tracker, the rules and the report: events
//! as a decoder would make them, without bytes.

use std::net::IpAddr;

use crate::event::codes::{ExchangeType, NotifyType, PayloadType, TransformType};
use crate::event::ike::{
    Attribute, AttributeValue, Delete, IkeMessage, Notify, Payload, PayloadBody, Proposal,
    Transform, v2_flags,
};
use crate::event::{
    AhInfo, Body, EspInfo, Event, Flow, IcmpError, IpInfo, PacketRef, QuotedPacket, Timestamp,
    ipproto,
};

pub use crate::event::codes::{ExchangeType as X, NotifyType as N};

/// `Msg::v2`'s third argument: the R flag.
pub const REQUEST: bool = false;
pub const RESPONSE: bool = true;
/// `Msg::v2`'s fourth argument: the I flag (sent by the original initiator).
pub const INITIATOR: bool = true;
pub const RESPONDER: bool = false;

pub const A: &str = "192.0.2.1";
pub const B: &str = "198.51.100.2";

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn ts(ms: u64) -> Timestamp {
    Timestamp::new(
        1_700_000_000 + (ms / 1000) as i64,
        ((ms % 1000) * 1_000_000) as u32,
    )
}

/// A scripted capture: each call adds one event at `ms` milliseconds.
#[derive(Default)]
pub struct Script {
    pub events: Vec<Event>,
    frame: u64,
}

pub fn payload(body: PayloadBody) -> Payload {
    Payload {
        payload_type: PayloadType::NONE,
        critical: false,
        length: 0,
        offset: 0,
        body,
    }
}

pub fn notify(t: NotifyType, data: &[u8]) -> Payload {
    payload(PayloadBody::Notify(Notify {
        notify_type: t,
        data: data.to_vec(),
        ..Notify::default()
    }))
}

pub fn sk(len: u32) -> Payload {
    payload(PayloadBody::Encrypted {
        inner_first_payload: 0,
        len,
    })
}

pub fn delete(protocol: u8, spis: &[u64]) -> Payload {
    payload(PayloadBody::Delete(Delete {
        protocol,
        spis: spis.to_vec(),
        ..Delete::default()
    }))
}

pub fn v2_sa(transforms: &[(u8, u16)]) -> Payload {
    payload(PayloadBody::Sa(vec![Proposal {
        number: 1,
        protocol: 1,
        spi: vec![],
        transforms: transforms
            .iter()
            .map(|&(t, id)| Transform {
                number: 0,
                transform_type: TransformType(t),
                id,
                attributes: vec![],
            })
            .collect(),
    }]))
}

pub fn v1_sa(protocol: u8, attrs: &[(u16, u64)]) -> Payload {
    payload(PayloadBody::Sa(vec![Proposal {
        number: 1,
        protocol,
        spi: vec![],
        transforms: vec![Transform {
            number: 1,
            transform_type: TransformType(0),
            id: 1,
            attributes: attrs
                .iter()
                .map(|&(a, v)| Attribute {
                    attr_type: a,
                    value: AttributeValue::Number(v),
                })
                .collect(),
        }],
    }]))
}

pub struct Msg {
    pub version: u8,
    pub ispi: u64,
    pub rspi: u64,
    pub exchange: ExchangeType,
    pub msg_id: u32,
    pub response: bool,
    pub initiator: bool,
    pub len: u32,
    pub payloads: Vec<Payload>,
    pub encrypted: bool,
    /// What keys found inside (integrity ok), when the message was opened.
    pub inner: Option<Vec<Payload>>,
}

impl Msg {
    pub fn v2(exchange: ExchangeType, msg_id: u32, response: bool, initiator: bool) -> Self {
        Msg {
            version: 2,
            ispi: 0x1111,
            rspi: if exchange == X::IKE_SA_INIT && !response {
                0
            } else {
                0x2222
            },
            exchange,
            msg_id,
            response,
            initiator,
            len: 300,
            payloads: vec![],
            encrypted: false,
            inner: None,
        }
    }
    pub fn v1(exchange: ExchangeType, msg_id: u32) -> Self {
        Msg {
            version: 1,
            ispi: 0x1111,
            rspi: 0x2222,
            exchange,
            msg_id,
            response: false,
            initiator: false,
            len: 200,
            payloads: vec![],
            encrypted: false,
            inner: None,
        }
    }
    pub fn len(mut self, l: u32) -> Self {
        self.len = l;
        self
    }
    pub fn spis(mut self, i: u64, r: u64) -> Self {
        self.ispi = i;
        self.rspi = r;
        self
    }
    pub fn with(mut self, p: Payload) -> Self {
        if matches!(p.body, PayloadBody::Encrypted { .. }) {
            self.encrypted = true;
        }
        self.payloads.push(p);
        self
    }
    pub fn encrypted(mut self) -> Self {
        self.encrypted = true;
        self
    }
    /// Opened with keys: `inner` is what the encrypted payload held, its integrity checked.
    pub fn opened(mut self, inner: Vec<Payload>) -> Self {
        self.encrypted = true;
        self.inner = Some(inner);
        self
    }
    pub fn build(self) -> IkeMessage {
        let mut flags = 0;
        if self.version == 2 {
            if self.response {
                flags |= v2_flags::RESPONSE;
            }
            if self.initiator {
                flags |= v2_flags::INITIATOR;
            }
        } else if self.encrypted {
            flags |= 1;
        }
        IkeMessage {
            version: self.version,
            ispi: self.ispi,
            rspi: self.rspi,
            exchange: self.exchange,
            flags,
            message_id: self.msg_id,
            length: self.len,
            wire_len: self.len,
            encrypted: self.encrypted,
            payloads: self.payloads,
            decrypted: self.inner.map(|payloads| {
                Box::new(crate::event::ike::Decrypted {
                    integrity: crate::event::ike::Integrity::Ok,
                    payloads,
                    error: None,
                })
            }),
            ..IkeMessage::default()
        }
    }
}

impl Script {
    fn next_frame(&mut self) -> u64 {
        self.frame += 1;
        self.frame
    }

    #[allow(clippy::too_many_arguments)]
    pub fn event(
        &mut self,
        ms: u64,
        src: &str,
        dst: &str,
        sport: u16,
        dport: u16,
        proto: u8,
        body: Body,
    ) -> &mut Event {
        let frame = self.next_frame();
        self.events.push(Event {
            pkt: PacketRef {
                frame,
                ts: ts(ms),
                caplen: 100,
                origlen: 100,
            },
            flow: Flow {
                src: ip(src),
                dst: ip(dst),
                sport,
                dport,
                proto,
            },
            ip: IpInfo {
                version: if ip(src).is_ipv4() { 4 } else { 6 },
                total_len: 100,
                ..IpInfo::default()
            },
            body,
        });
        self.events.last_mut().unwrap()
    }

    pub fn ike(&mut self, ms: u64, src: &str, dst: &str, m: Msg) -> &mut Event {
        let len = m.len;
        let e = self.event(
            ms,
            src,
            dst,
            500,
            500,
            ipproto::UDP,
            Body::Ike(Box::new(m.build())),
        );
        e.ip.total_len = len + 28;
        e
    }

    pub fn esp(&mut self, ms: u64, src: &str, dst: &str, spi: u32, seq: u32) -> &mut Event {
        self.event(
            ms,
            src,
            dst,
            0,
            0,
            ipproto::ESP,
            Body::Esp(EspInfo {
                spi,
                seq,
                len: 120,
                udp_encapsulated: false,
                cleartext: None,
                decrypted: None,
            }),
        )
    }
}

impl Script {
    /// A TCP segment of an RFC 8229 connection from `src`:`sport` to `dst`:`dport` that the
    /// decoder found worth an event: `flags`, and whatever `f` sets.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        ms: u64,
        src: &str,
        dst: &str,
        sport: u16,
        dport: u16,
        flags: u8,
        f: impl FnOnce(&mut crate::event::TcpInfo),
    ) -> &mut Event {
        let mut t = crate::event::TcpInfo {
            flags,
            window: 64_000,
            ..Default::default()
        };
        f(&mut t);
        self.event(ms, src, dst, sport, dport, ipproto::TCP, Body::Tcp(t))
    }

    /// An IKE message carried in TCP from `src`:`sport` to `dst`:`dport`.
    pub fn ike_tcp(
        &mut self,
        ms: u64,
        src: &str,
        dst: &str,
        ports: (u16, u16),
        m: Msg,
    ) -> &mut Event {
        let e = self.ike(ms, src, dst, m);
        e.flow.proto = ipproto::TCP;
        e.flow.sport = ports.0;
        e.flow.dport = ports.1;
        e
    }

    /// A router (192.0.2.254) telling `src` that its ESP packet to `dst` (SPI `spi`) needs
    /// fragmentation, next-hop MTU `mtu` (ICMP type 3 code 4).
    pub fn frag_needed_for_esp(
        &mut self,
        ms: u64,
        src: &str,
        dst: &str,
        spi: u32,
        mtu: u32,
    ) -> &mut Event {
        let quoted = QuotedPacket {
            flow: Some(Flow {
                src: ip(src),
                dst: ip(dst),
                sport: 0,
                dport: 0,
                proto: ipproto::ESP,
            }),
            total_len: 1400,
            dont_fragment: true,
            esp_spi: Some(spi),
            esp_seq: Some(1),
            ..Default::default()
        };
        self.event(
            ms,
            "192.0.2.254",
            src,
            0,
            0,
            ipproto::ICMP,
            Body::IcmpError(Box::new(IcmpError {
                v6: false,
                icmp_type: 3,
                code: 4,
                mtu: Some(mtu),
                quoted,
            })),
        )
    }

    /// An AH packet (next header TCP) whose IP datagram is 140 bytes.
    pub fn ah(&mut self, ms: u64, src: &str, dst: &str, spi: u32, seq: u32) -> &mut Event {
        let e = self.event(
            ms,
            src,
            dst,
            0,
            0,
            ipproto::AH,
            Body::Ah(AhInfo {
                spi,
                seq,
                next_header: 6,
            }),
        );
        e.ip.total_len = 140;
        e
    }
}

/// A healthy IKEv2 tunnel: IKE_SA_INIT, IKE_AUTH, ESP both ways, one DPD.
/// An IKEv2 SA that authenticates (IKE_AUTH response of 116 bytes of SK payload) and is torn
/// down by an INFORMATIONAL exchange 1 s later, with no ESP: the shape of the Libreswan lab's
/// refused Child SA (ikev2_cookie_libreswan.pcap).
pub fn torn_down_after_auth(s: &mut Script) {
    s.ike(0, A, B, Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR));
    s.ike(
        2,
        B,
        A,
        Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER).with(v2_sa(&[(4, 14)])),
    );
    s.ike(
        4,
        A,
        B,
        Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR)
            .len(288)
            .with(sk(260)),
    );
    s.ike(
        5,
        B,
        A,
        Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER)
            .len(144)
            .with(sk(116)),
    );
    s.ike(
        970,
        A,
        B,
        Msg::v2(X::INFORMATIONAL, 2, REQUEST, INITIATOR)
            .len(80)
            .with(sk(52)),
    );
    s.ike(
        971,
        B,
        A,
        Msg::v2(X::INFORMATIONAL, 2, RESPONSE, RESPONDER)
            .len(80)
            .with(sk(52)),
    );
}

/// IKEv1 Main Mode (ISAKMP SA 0x1111) and a Quick Mode from A, all answered, by 80 ms.
pub fn healthy_v1(s: &mut Script) {
    let sa = || v1_sa(1, &[(1, 7), (2, 2), (3, 1), (4, 14)]);
    s.ike(
        0,
        A,
        B,
        Msg::v1(X::MAIN, 0).spis(0x1111, 0).len(180).with(sa()),
    );
    s.ike(10, B, A, Msg::v1(X::MAIN, 0).len(160).with(sa()));
    s.ike(20, A, B, Msg::v1(X::MAIN, 0).len(300));
    s.ike(30, B, A, Msg::v1(X::MAIN, 0).len(300));
    s.ike(40, A, B, Msg::v1(X::MAIN, 0).len(92).encrypted());
    s.ike(50, B, A, Msg::v1(X::MAIN, 0).len(92).encrypted());
    s.ike(60, A, B, Msg::v1(X::QUICK, 7).len(300).encrypted());
    s.ike(70, B, A, Msg::v1(X::QUICK, 7).len(300).encrypted());
    s.ike(80, A, B, Msg::v1(X::QUICK, 7).len(60).encrypted());
}

pub fn healthy_v2(s: &mut Script) {
    s.ike(
        0,
        A,
        B,
        Msg::v2(X::IKE_SA_INIT, 0, REQUEST, INITIATOR)
            .len(300)
            .with(v2_sa(&[(1, 12), (2, 5), (3, 12), (4, 14)])),
    );
    s.ike(
        20,
        B,
        A,
        Msg::v2(X::IKE_SA_INIT, 0, RESPONSE, RESPONDER)
            .len(300)
            .with(v2_sa(&[(1, 12), (2, 5), (3, 12), (4, 14)])),
    );
    s.ike(
        40,
        A,
        B,
        Msg::v2(X::IKE_AUTH, 1, REQUEST, INITIATOR)
            .len(400)
            .with(sk(370)),
    );
    s.ike(
        60,
        B,
        A,
        Msg::v2(X::IKE_AUTH, 1, RESPONSE, RESPONDER)
            .len(300)
            .with(sk(270)),
    );
    for i in 0..20u32 {
        s.esp(100 + u64::from(i) * 100, A, B, 0xc1, i + 1);
        s.esp(150 + u64::from(i) * 100, B, A, 0xc2, i + 1);
    }
    s.ike(
        10_000,
        A,
        B,
        Msg::v2(X::INFORMATIONAL, 2, REQUEST, INITIATOR)
            .len(80)
            .with(sk(52)),
    );
    s.ike(
        10_020,
        B,
        A,
        Msg::v2(X::INFORMATIONAL, 2, RESPONSE, RESPONDER)
            .len(80)
            .with(sk(52)),
    );
}

/// An ICMP error from a router (203.0.113.1) to A, quoting an IKE_SA_INIT from A to B.
pub fn icmp(s: &mut Script, ms: u64, t: u8, code: u8, mtu: Option<u32>) {
    s.event(
        ms,
        "203.0.113.1",
        A,
        0,
        0,
        ipproto::ICMP,
        Body::IcmpError(Box::new(IcmpError {
            v6: false,
            icmp_type: t,
            code,
            mtu,
            quoted: QuotedPacket {
                flow: Some(Flow {
                    src: ip(A),
                    dst: ip(B),
                    sport: 500,
                    dport: 500,
                    proto: ipproto::UDP,
                }),
                ike_spis: Some((0x1111, 0)),
                ..QuotedPacket::default()
            },
        })),
    );
}

/// An ICMP echo request from `src` to `dst`, `len` bytes of IP, as decryption or the clear
/// path reports a packet.
pub fn echo_request(src: &str, dst: &str, len: u32) -> crate::event::InnerPacket {
    crate::event::InnerPacket {
        src: ip(src),
        dst: ip(dst),
        proto: 1,
        sport: 8,
        dport: 0,
        len,
        dont_fragment: false,
        tcp_flags: None,
        tcp_mss: None,
        ident: 0,
        l4_head: 0,
    }
}
