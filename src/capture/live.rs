//! Live capture through libpcap (the `pcap` crate): the interface, the kernel filter that keeps
//! only what ike-sniff reads, the capture counters, and a pcap writer for `-w`.
//!
//! Settings are chosen to keep up with a busy gateway: immediate mode off (on Linux, libpcap
//! then uses TPACKET_V3 and hands packets over a block at a time), a large kernel buffer, and a
//! snap length that keeps whole IKE messages. With immediate mode off a read can wait for a block
//! to fill, so the capture has a read timeout and [`LiveSource::read`] reports it as
//! [`Next::Timeout`]: the run loop gets control back on an idle interface (signals, periodic
//! output, `--duration`) without waiting for a packet. For that reason `LiveSource` has its own
//! `read` rather than implementing [`super::PacketSource`], whose `Ok(None)` means the end.
//!
//! Dropping privileges and the run loop are in [`crate::app::live`]; decoding is in `decode/`.

use crate::decode::tcp::EncapPorts;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use pcap::{Active, Capture, Device, Linktype, Precision};

use super::{CaptureError, RawPacket};
use crate::event::Timestamp;

/// What ike-sniff reads, as a kernel filter: IKE and NAT-T (UDP 500 and 4500), IKE and ESP in
/// TCP (RFC 8229; port 4500 here, the `--tcp-encap-port` ports in [`build_filter_for`]), ESP and AH, ICMP
/// and ICMPv6 errors (they quote the packet that caused them: PMTU and unreachable), and IP
/// fragments of any protocol (a non-first fragment of a big IKE message has no UDP header, so
/// only the fragment fields say it belongs).
///
/// - `ip[6:2] & 0x3fff != 0`: IPv4 More Fragments set or a non-zero fragment offset.
/// - `ip6[6] == 44`: an IPv6 Fragment header right after the fixed header (the usual place).
/// - ICMP types 3 (unreachable, including "fragmentation needed"), 4, 5, 11 and 12; ICMPv6
///   types below 128 are the errors (RFC 4443 section 2.1). Echo floods are left out.
///
/// Traffic inside 802.1Q tags is matched only when the kernel strips the tag (the default with
/// VLAN offload on Linux); on a trunk without offload, add `or (vlan and (…))` yourself.
pub const IPSEC_FILTER: &str = "udp port 500 or udp port 4500 or tcp port 4500 or esp or ah \
     or (icmp and (icmp[0] == 3 or icmp[0] == 4 or icmp[0] == 5 or icmp[0] == 11 or icmp[0] == 12)) \
     or (icmp6 and ip6[40] < 128) \
     or (ip and ip[6:2] & 0x3fff != 0) \
     or (ip6 and ip6[6] == 44)";

/// The filter handed to the kernel: ours, narrowed by the user's tcpdump-style expression if
/// there is one (`ike-sniff -i eth0 host 203.0.113.5`).
pub fn build_filter(user_expression: Option<&str>) -> String {
    build_filter_for(user_expression, &EncapPorts::default())
}

/// [`build_filter`] with TCP encapsulation on `tcp` instead of port 4500.
pub fn build_filter_for(user_expression: Option<&str>, tcp: &EncapPorts) -> String {
    let ours = if *tcp == EncapPorts::default() {
        IPSEC_FILTER.to_string()
    } else {
        let ports: Vec<String> = tcp
            .as_slice()
            .iter()
            .map(|p| format!("tcp port {p}"))
            .collect();
        IPSEC_FILTER.replacen("tcp port 4500", &ports.join(" or "), 1)
    };
    match user_expression.map(str::trim) {
        Some(e) if !e.is_empty() => format!("({ours}) and ({e})"),
        _ => ours,
    }
}

/// Capture settings.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub interface: String,
    /// Bytes kept per packet; big enough for a whole IKE message (up to 64 KiB over UDP).
    pub snaplen: u32,
    /// Kernel buffer in KiB (tcpdump's `-B`).
    pub buffer_kib: u32,
    pub promiscuous: bool,
    /// How long a read waits before handing control back (milliseconds).
    pub read_timeout_ms: u32,
    /// The complete kernel filter (see [`build_filter`]).
    pub filter: String,
}

impl LiveConfig {
    pub const DEFAULT_SNAPLEN: u32 = 262_144;
    pub const DEFAULT_BUFFER_KIB: u32 = 65_536;
    pub const DEFAULT_READ_TIMEOUT_MS: u32 = 200;

    pub fn new(interface: &str) -> Self {
        LiveConfig {
            interface: interface.to_string(),
            snaplen: Self::DEFAULT_SNAPLEN,
            buffer_kib: Self::DEFAULT_BUFFER_KIB,
            promiscuous: true,
            read_timeout_ms: Self::DEFAULT_READ_TIMEOUT_MS,
            filter: IPSEC_FILTER.to_string(),
        }
    }
}

/// What a read returned.
pub enum Next<'a> {
    Packet(RawPacket<'a>),
    /// Everything the kernel had handed over has been read; the next call waits (up to the
    /// read timeout) for more. A good moment to flush output.
    Drained,
    /// The read timeout passed with no packet.
    Timeout,
}

/// libpcap's counters (`pcap_stats`). On Linux `received` counts every packet that passed the
/// filter, including those the kernel then dropped; the counters are 32-bit and wrap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureStats {
    pub received: u32,
    /// Dropped by the kernel: the capture buffer was full because packets were not read fast
    /// enough.
    pub dropped_kernel: u32,
    /// Dropped by the interface or its driver.
    pub dropped_interface: u32,
}

/// An open interface.
pub struct LiveSource {
    cap: Capture<Active>,
    name: String,
    linktype: u32,
    snaplen: u32,
    frame: u64,
    /// The last read found nothing: poll before the next.
    drained: bool,
    poll_timeout: PollTimeout,
}

impl LiveSource {
    /// Opens and activates the interface and installs the filter. Needs root or CAP_NET_RAW
    /// (and CAP_NET_ADMIN for promiscuous mode); the errors say so.
    pub fn open(cfg: &LiveConfig) -> Result<Self, CaptureError> {
        let err = |message: String| CaptureError {
            source_name: cfg.interface.clone(),
            frame: None,
            message,
        };
        let buffer_bytes = i32::try_from(u64::from(cfg.buffer_kib) * 1024)
            .map_err(|_| err(format!("buffer of {} KiB is too large", cfg.buffer_kib)))?;
        let snaplen = i32::try_from(cfg.snaplen)
            .map_err(|_| err(format!("snap length {} is too large", cfg.snaplen)))?;
        let timeout = i32::try_from(cfg.read_timeout_ms.max(1)).unwrap_or(i32::MAX);
        let inactive = Capture::from_device(cfg.interface.as_str())
            .map_err(|e| err(open_error_message(&cfg.interface, &e)))?;
        let mut cap = inactive
            .promisc(cfg.promiscuous)
            .snaplen(snaplen)
            .buffer_size(buffer_bytes)
            .immediate_mode(false)
            .timeout(timeout)
            .precision(Precision::Nano)
            .open()
            .map_err(|e| err(open_error_message(&cfg.interface, &e)))?
            // With TPACKET_V3 libpcap's own wait has no timeout on an idle interface (it leaves
            // the timeout to the kernel, which only wakes it for blocks that hold packets), so
            // reads do not block and `read` polls the socket with the timeout itself.
            .setnonblock()
            .map_err(|e| {
                err(format!(
                    "cannot make the capture non-blocking: {}",
                    pcap_message(&e)
                ))
            })?;
        cap.filter(&cfg.filter, true).map_err(|e| {
            err(format!(
                "bad filter expression: {}\n  (the filter was: {})",
                pcap_message(&e),
                cfg.filter
            ))
        })?;
        let linktype = cap.get_datalink().0 as u32;
        Ok(LiveSource {
            cap,
            name: cfg.interface.clone(),
            linktype,
            snaplen: cfg.snaplen,
            frame: 0,
            drained: true,
            poll_timeout: PollTimeout::try_from(cfg.read_timeout_ms.max(1))
                .unwrap_or(PollTimeout::MAX),
        })
    }

    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// libpcap's name and description for the link type, e.g. `EN10MB (Ethernet)`.
    pub fn linktype_description(&self) -> String {
        let lt = Linktype(self.linktype as i32);
        match (lt.get_name(), lt.get_description()) {
            (Ok(n), Ok(d)) => format!("{n} ({d})"),
            _ => format!("{}", self.linktype),
        }
    }

    /// The interface name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Packets returned so far.
    pub fn packets(&self) -> u64 {
        self.frame
    }

    /// The next packet; [`Next::Drained`] when the kernel has nothing more right now (the
    /// following call waits), [`Next::Timeout`] when the read timeout passed with nothing (or a
    /// signal arrived). Packets are numbered 1.. as received, so frame numbers match a `-w` file
    /// written alongside.
    pub fn read(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.drained {
            let ready = {
                let mut fds = [PollFd::new(self.cap.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, self.poll_timeout) {
                    Ok(n) => n > 0,
                    Err(nix::errno::Errno::EINTR) => false,
                    Err(e) => {
                        return Err(CaptureError {
                            source_name: self.name.clone(),
                            frame: Some(self.frame + 1),
                            message: format!("waiting for packets: {e}"),
                        });
                    }
                }
            };
            if !ready {
                return Ok(Next::Timeout);
            }
            self.drained = false;
        }
        match self.cap.next_packet() {
            Ok(p) => {
                self.frame += 1;
                let ts = Timestamp::new(
                    // time_t is 32 bits on some targets.
                    #[allow(clippy::useless_conversion)]
                    i64::from(p.header.ts.tv_sec),
                    // Nanosecond precision was asked for, so tv_usec holds nanoseconds.
                    u32::try_from(p.header.ts.tv_usec)
                        .unwrap_or(0)
                        .min(999_999_999),
                );
                Ok(Next::Packet(RawPacket {
                    frame: self.frame,
                    ts,
                    caplen: p.header.caplen,
                    origlen: p.header.len,
                    linktype: self.linktype,
                    data: p.data,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                self.drained = true;
                Ok(Next::Drained)
            }
            Err(e) => Err(CaptureError {
                source_name: self.name.clone(),
                frame: Some(self.frame + 1),
                message: pcap_message(&e),
            }),
        }
    }

    pub fn stats(&mut self) -> Result<CaptureStats, CaptureError> {
        match self.cap.stats() {
            Ok(s) => Ok(CaptureStats {
                received: s.received,
                dropped_kernel: s.dropped,
                dropped_interface: s.if_dropped,
            }),
            Err(e) => Err(CaptureError {
                source_name: self.name.clone(),
                frame: None,
                message: format!("reading the capture counters: {}", pcap_message(&e)),
            }),
        }
    }
}

/// The message without the crate's "libpcap error: " prefix.
fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Turns libpcap's open errors into what the operator should do.
fn open_error_message(interface: &str, e: &pcap::Error) -> String {
    let raw = pcap_message(e);
    let lower = raw.to_ascii_lowercase();
    if lower.contains("no such device") || lower.contains("doesn't exist") {
        format!("no such interface ({raw}); `ike-sniff -D` lists the interfaces")
    } else if lower.contains("permission") || lower.contains("not permitted") {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "ike-sniff".into());
        format!(
            "cannot capture on {interface}: {raw}\n  live capture needs root, or the capabilities: \
             sudo setcap cap_net_raw,cap_net_admin=eip {exe}"
        )
    } else {
        format!("cannot capture on {interface}: {raw}")
    }
}

/// One interface as `-D` shows it.
pub struct InterfaceInfo {
    pub name: String,
    pub description: Option<String>,
    pub flags: Vec<&'static str>,
}

/// The interfaces libpcap can capture on (`-D`), in libpcap's order.
pub fn list_interfaces() -> Result<Vec<InterfaceInfo>, String> {
    let devices = Device::list().map_err(|e| pcap_message(&e))?;
    Ok(devices
        .into_iter()
        .map(|d| {
            let mut flags = Vec::new();
            if d.flags.is_up() {
                flags.push("Up");
            }
            if d.flags.is_running() {
                flags.push("Running");
            }
            if d.flags.is_loopback() {
                flags.push("Loopback");
            }
            if d.flags.is_wireless() {
                flags.push("Wireless");
            }
            InterfaceInfo {
                name: d.name,
                description: d.desc,
                flags,
            }
        })
        .collect())
}

/// Compiles a filter for a link type without an interface (tests, and checking an expression
/// before opening).
pub fn check_filter(linktype: u32, filter: &str) -> Result<(), String> {
    let dead = Capture::dead(Linktype(linktype as i32)).map_err(|e| pcap_message(&e))?;
    dead.compile(filter, true)
        .map(|_| ())
        .map_err(|e| pcap_message(&e))
}

/// libpcap reports DLT_ values; files carry LINKTYPE_ values. They differ only for a few, of
/// which raw IP (a tun or xfrm interface) matters here.
fn dlt_to_linktype(dlt: u32) -> u32 {
    match dlt {
        12 | 14 => 101,
        other => other,
    }
}

/// Classic pcap writer for `-w`: nanosecond timestamps (magic `a1b23c4d`, which Wireshark,
/// tcpdump and ike-sniff read), the capture's link type and snap length.
///
/// Written here rather than with libpcap's `pcap_dump` so the file can be opened while still
/// privileged and handed to the unprivileged user (`fchown`), and so its size is known for `-C`.
pub struct PcapWriter {
    out: BufWriter<File>,
    bytes: u64,
}

impl PcapWriter {
    const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

    /// Creates (truncates) `path`; with `owner`, gives it to that uid/gid.
    pub fn create(
        path: &Path,
        linktype: u32,
        snaplen: u32,
        owner: Option<(u32, u32)>,
    ) -> io::Result<Self> {
        let file = File::create(path)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&Self::MAGIC_NANOS.to_ne_bytes());
        header[4..6].copy_from_slice(&2u16.to_ne_bytes());
        header[6..8].copy_from_slice(&4u16.to_ne_bytes());
        // thiszone and sigfigs stay 0.
        header[16..20].copy_from_slice(&snaplen.to_ne_bytes());
        header[20..24].copy_from_slice(&dlt_to_linktype(linktype).to_ne_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out, bytes: 24 })
    }

    pub fn write(&mut self, raw: &RawPacket<'_>) -> io::Result<()> {
        let mut rec = [0u8; 16];
        // Classic pcap keeps seconds in 32 bits (until 2106 read as unsigned).
        rec[0..4].copy_from_slice(&(raw.ts.secs as u32).to_ne_bytes());
        rec[4..8].copy_from_slice(&raw.ts.nanos.to_ne_bytes());
        rec[8..12].copy_from_slice(&(raw.data.len() as u32).to_ne_bytes());
        rec[12..16].copy_from_slice(&raw.origlen.to_ne_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(raw.data)?;
        self.bytes += 16 + raw.data.len() as u64;
        Ok(())
    }

    /// Whether `path` still names the file being written (after a rename or delete by
    /// logrotate it does not).
    pub fn is_at(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (self.out.get_ref().metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }

    /// Bytes written so far, header included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETHERNET: u32 = 1;
    const LINUX_SLL: u32 = 113;
    const LINUX_SLL2: u32 = 276;
    /// DLT_RAW as libpcap has it on Linux (a tun or xfrm interface).
    const RAW: u32 = 12;

    #[test]
    fn the_filter_compiles_on_every_link_type_live_capture_gives() {
        for lt in [ETHERNET, LINUX_SLL, LINUX_SLL2, RAW] {
            check_filter(lt, IPSEC_FILTER).unwrap_or_else(|e| panic!("link type {lt}: {e}"));
            check_filter(lt, &build_filter(Some("host 203.0.113.5")))
                .unwrap_or_else(|e| panic!("link type {lt}: {e}"));
        }
    }

    #[test]
    fn a_user_expression_narrows_ours() {
        assert_eq!(build_filter(None), IPSEC_FILTER);
        assert_eq!(build_filter(Some("  ")), IPSEC_FILTER);
        assert_eq!(
            build_filter(Some("host 203.0.113.5")),
            format!("({IPSEC_FILTER}) and (host 203.0.113.5)")
        );
        // A user "or" cannot widen the filter: it stays inside its parentheses.
        let f = build_filter(Some("host 192.0.2.1 or tcp"));
        assert!(f.ends_with("and (host 192.0.2.1 or tcp)"), "{f}");
    }

    #[test]
    fn other_encapsulation_ports_replace_4500() {
        let ports = EncapPorts::new(&[443, 10000]).unwrap();
        let f = build_filter_for(Some("host 192.0.2.1"), &ports);
        assert!(f.contains("tcp port 443 or tcp port 10000 or esp"), "{f}");
        assert!(!f.contains("tcp port 4500"), "{f}");
        assert!(f.contains("udp port 4500"), "{f}");
        let dead = Capture::dead(Linktype(ETHERNET as i32)).unwrap();
        let prog = dead.compile(&build_filter_for(None, &ports), true).unwrap();
        assert!(prog.filter(&ipv4(6, 0x4000, &udp(40000, 443))));
        assert!(!prog.filter(&ipv4(6, 0x4000, &udp(40000, 4500))));
        for lt in [ETHERNET, LINUX_SLL, LINUX_SLL2, RAW] {
            check_filter(lt, &f).unwrap_or_else(|e| panic!("link type {lt}: {e}"));
        }
    }

    #[test]
    fn a_bad_expression_is_reported() {
        assert!(check_filter(ETHERNET, &build_filter(Some("hots 1.2.3.4"))).is_err());
    }

    /// Runs the compiled filter over hand-made Ethernet frames.
    fn matches(frame: &[u8]) -> bool {
        let dead = Capture::dead(Linktype(ETHERNET as i32)).unwrap();
        dead.compile(IPSEC_FILTER, true).unwrap().filter(frame)
    }

    fn ipv4(proto: u8, flags_frag: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let total = 20 + payload.len();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            (flags_frag >> 8) as u8,
            flags_frag as u8,
            64,
            proto,
            0,
            0,
        ];
        ip.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(payload);
        f
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x86;
        f[13] = 0xdd;
        let mut ip = vec![0x60, 0, 0, 0, 0, payload.len() as u8, next, 64];
        ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        ip.extend_from_slice(&[0; 12]);
        ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        ip.extend_from_slice(&[0; 11]);
        ip.push(2);
        f.extend_from_slice(&ip);
        f.extend_from_slice(payload);
        f
    }

    fn udp(sport: u16, dport: u16) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&sport.to_be_bytes());
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&[0, 12, 0, 0, 1, 2, 3, 4]);
        u
    }

    #[test]
    fn the_filter_keeps_what_ike_sniff_reads_and_nothing_else() {
        // Kept.
        assert!(matches(&ipv4(17, 0x4000, &udp(500, 500))));
        assert!(matches(&ipv4(17, 0, &udp(4500, 61000))));
        assert!(matches(&ipv4(50, 0, &[0; 16])));
        assert!(matches(&ipv4(51, 0, &[0; 16])));
        assert!(matches(&ipv4(1, 0, &[3, 4, 0, 0, 0, 0, 5, 0xdc]))); // frag needed
        assert!(matches(&ipv4(1, 0, &[11, 0, 0, 0, 0, 0, 0, 0])));
        assert!(matches(&ipv4(17, 0x2000, &udp(500, 500)))); // first fragment (MF)
        assert!(matches(&ipv4(17, 0x00b9, &[0; 16]))); // later fragment, no UDP header
        assert!(matches(&ipv6(17, &udp(500, 500))));
        assert!(matches(&ipv6(50, &[0; 16])));
        assert!(matches(&ipv6(58, &[2, 0, 0, 0, 0, 0, 5, 0]))); // packet too big
        assert!(matches(&ipv6(44, &[17, 0, 0, 8, 0, 0, 0, 1]))); // fragment header
        // TCP encapsulation (RFC 8229), either direction.
        assert!(matches(&ipv4(6, 0x4000, &udp(40000, 4500))));
        assert!(matches(&ipv4(6, 0x4000, &udp(4500, 40000))));
        assert!(matches(&ipv6(6, &udp(4500, 40000))));
        // Dropped.
        assert!(!matches(&ipv4(6, 0x4000, &[0; 20])));
        assert!(!matches(&ipv4(6, 0x4000, &udp(40000, 443))));
        assert!(!matches(&ipv4(17, 0x4000, &udp(53, 40000))));
        assert!(!matches(&ipv4(1, 0, &[8, 0, 0, 0, 0, 0, 0, 0]))); // echo request
        assert!(!matches(&ipv6(58, &[128, 0, 0, 0, 0, 0, 0, 0]))); // echo request
        assert!(!matches(&ipv6(6, &[0; 20])));
    }

    #[test]
    fn the_writer_writes_a_file_ike_sniff_reads_back() {
        use crate::capture::PacketSource;
        use crate::capture::file::FileSource;
        let dir = std::env::temp_dir().join(format!("ike-sniff-live-w-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.pcap");
        let frame = ipv4(17, 0x4000, &udp(500, 500));
        let mut w = PcapWriter::create(&path, ETHERNET, 262_144, None).unwrap();
        for i in 0..3u32 {
            w.write(&RawPacket {
                frame: u64::from(i) + 1,
                ts: Timestamp::new(1_700_000_000 + i64::from(i), 123_456_789),
                caplen: frame.len() as u32,
                origlen: frame.len() as u32 + 100,
                linktype: ETHERNET,
                data: &frame,
            })
            .unwrap();
        }
        assert_eq!(w.bytes(), 24 + 3 * (16 + frame.len() as u64));
        w.flush().unwrap();
        drop(w);
        let mut src = FileSource::open(path.to_str().unwrap()).unwrap();
        let mut n = 0;
        while let Some(p) = src.next_packet().unwrap() {
            n += 1;
            assert_eq!(p.ts, Timestamp::new(1_699_999_999 + n, 123_456_789));
            assert_eq!(p.data, &frame[..]);
            assert_eq!(p.origlen, frame.len() as u32 + 100);
            assert_eq!(p.linktype, ETHERNET);
        }
        assert_eq!(n, 3);
        std::fs::remove_dir_all(&dir).ok();
    }
}
