//! Packet-line timestamps the way tcpdump writes them (`-t` … `-ttttt`), in the local time zone
//! unless `--utc`, so a packet line lines up with `tcpdump -nr` on the same capture.
//!
//! Time zones come from jiff (the system's tz database, `TZ` honoured); the report's other
//! times (finding spans, JSON epoch seconds) stay in UTC and live in [`super::fmt`].

use std::fmt::Write as _;

use jiff::tz::TimeZone;

use crate::event::Timestamp;

/// tcpdump's `-t` family: how many `t`s were given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeFormat {
    /// No `-t`: time of day (`08:21:24.386989`); the date too once the capture has moved on
    /// to another day than its first packet's, so a line never means two moments.
    #[default]
    Clock,
    /// `-t`: no timestamp.
    Hidden,
    /// `-tt`: seconds since the epoch (`1186402884.386989`).
    Epoch,
    /// `-ttt`: time since the previous packet line (` 00:00:00.003731`).
    SincePrevious,
    /// `-tttt`: date and time of day (`2007-08-06 08:21:24.386989`).
    Date,
    /// `-ttttt`: time since the first packet (` 00:00:00.007534`).
    SinceFirst,
}

impl TimeFormat {
    /// The format for `count` `-t` flags (more than five is five, as tcpdump).
    pub fn from_count(count: u8) -> Self {
        match count {
            0 => TimeFormat::Clock,
            1 => TimeFormat::Hidden,
            2 => TimeFormat::Epoch,
            3 => TimeFormat::SincePrevious,
            4 => TimeFormat::Date,
            _ => TimeFormat::SinceFirst,
        }
    }
}

/// Writes the timestamp column of packet lines. It remembers the first packet (for the date
/// rule and `-ttttt`) and the previous line (`-ttt`).
#[derive(Clone, Debug)]
pub struct Stamper {
    format: TimeFormat,
    zone: TimeZone,
    first: Option<Timestamp>,
    first_day: Option<jiff::civil::Date>,
    previous: Option<Timestamp>,
}

impl Stamper {
    pub fn new(format: TimeFormat, utc: bool) -> Self {
        Stamper {
            format,
            zone: zone(utc),
            first: None,
            first_day: None,
            previous: None,
        }
    }

    /// Whether a line's stamp depends on which lines were printed before it (`-ttt`), so that
    /// lines must be rendered in order on one thread.
    pub fn depends_on_previous_line(&self) -> bool {
        self.format == TimeFormat::SincePrevious
    }

    /// Every event goes through here in capture order, printed or not, so that "the first
    /// packet" is the same whichever thread renders a line.
    pub fn observe(&mut self, ts: Timestamp) {
        if self.first.is_none() {
            self.first = Some(ts);
            self.first_day = civil(&self.zone, ts).map(|dt| dt.date());
        }
    }

    /// Appends the stamp and the space after it (nothing at all for `-t`).
    pub fn write(&mut self, out: &mut String, ts: Timestamp) {
        self.observe(ts);
        match self.format {
            TimeFormat::Hidden => return,
            TimeFormat::Clock => match civil(&self.zone, ts) {
                Some(dt) if Some(dt.date()) == self.first_day => clock(out, dt, ts),
                Some(dt) => date_clock(out, dt, ts),
                None => epoch(out, ts),
            },
            TimeFormat::Date => match civil(&self.zone, ts) {
                Some(dt) => date_clock(out, dt, ts),
                None => epoch(out, ts),
            },
            TimeFormat::Epoch => epoch(out, ts),
            TimeFormat::SincePrevious => {
                delta(out, ts, self.previous.unwrap_or(ts));
            }
            TimeFormat::SinceFirst => delta(out, ts, self.first.unwrap_or(ts)),
        }
        self.previous = Some(ts);
        out.push(' ');
    }

    /// Time of day, with the date when `from` and `to` are not on the same day (summary lines
    /// that give a span).
    pub fn span(&self, from: Timestamp, to: Timestamp) -> String {
        let mut out = String::with_capacity(64);
        match (civil(&self.zone, from), civil(&self.zone, to)) {
            (Some(a), Some(b)) if a.date() == b.date() => {
                clock(&mut out, a, from);
                out.push_str(" .. ");
                clock(&mut out, b, to);
            }
            (Some(a), Some(b)) => {
                date_clock(&mut out, a, from);
                out.push_str(" .. ");
                date_clock(&mut out, b, to);
            }
            _ => {
                epoch(&mut out, from);
                out.push_str(" .. ");
                epoch(&mut out, to);
            }
        }
        out
    }
}

/// UTC, or the local zone (`TZ`, then `/etc/localtime`), as tcpdump uses by default. An
/// unreadable local zone falls back to UTC (jiff says so through its log, which is silent).
fn zone(utc: bool) -> TimeZone {
    if utc {
        TimeZone::UTC
    } else {
        TimeZone::system()
    }
}

/// The civil date and time of `ts` in `zone`; `None` outside the years jiff represents (a
/// fuzzed record), which is then written as epoch seconds.
fn civil(zone: &TimeZone, ts: Timestamp) -> Option<jiff::civil::DateTime> {
    let t = jiff::Timestamp::new(ts.secs, 0).ok()?;
    Some(zone.to_datetime(t))
}

fn clock(out: &mut String, dt: jiff::civil::DateTime, ts: Timestamp) {
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:06}",
        dt.hour(),
        dt.minute(),
        dt.second(),
        ts.nanos / 1000
    );
}

fn date_clock(out: &mut String, dt: jiff::civil::DateTime, ts: Timestamp) {
    let _ = write!(out, "{:04}-{:02}-{:02} ", dt.year(), dt.month(), dt.day());
    clock(out, dt, ts);
}

fn epoch(out: &mut String, ts: Timestamp) {
    let _ = write!(out, "{}.{:06}", ts.secs, ts.nanos / 1000);
}

/// tcpdump's delta form: a sign column (space or `-`), then hours (not wrapped at 24), minutes,
/// seconds and microseconds. Captures merged from several interfaces can go back in time.
fn delta(out: &mut String, ts: Timestamp, from: Timestamp) {
    let now = i128::from(ts.secs) * 1_000_000 + i128::from(ts.nanos / 1000);
    let then = i128::from(from.secs) * 1_000_000 + i128::from(from.nanos / 1000);
    let d = now - then;
    let (sign, d) = if d < 0 { ('-', -d) } else { (' ', d) };
    let secs = d / 1_000_000;
    let _ = write!(
        out,
        "{sign}{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        d % 1_000_000
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamps(format: TimeFormat, zone: TimeZone, times: &[Timestamp]) -> Vec<String> {
        let mut s = Stamper {
            format,
            zone,
            first: None,
            first_day: None,
            previous: None,
        };
        times
            .iter()
            .map(|&t| {
                let mut out = String::new();
                s.write(&mut out, t);
                out
            })
            .collect()
    }

    const T: [Timestamp; 3] = [
        Timestamp::new(1_186_402_884, 386_989_000),
        Timestamp::new(1_186_402_884, 390_720_000),
        Timestamp::new(1_186_402_884, 394_523_999),
    ];

    /// The figures are `TZ=America/New_York tcpdump -nr captures/public/tcpdump/ikev2four.pcap`
    /// with each `-t` count (tcpdump 4.99.3).
    #[test]
    fn tcpdump_forms() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let cases: [(TimeFormat, [&str; 3]); 6] = [
            (
                TimeFormat::Clock,
                ["08:21:24.386989 ", "08:21:24.390720 ", "08:21:24.394523 "],
            ),
            (TimeFormat::Hidden, ["", "", ""]),
            (
                TimeFormat::Epoch,
                [
                    "1186402884.386989 ",
                    "1186402884.390720 ",
                    "1186402884.394523 ",
                ],
            ),
            (
                TimeFormat::SincePrevious,
                [
                    " 00:00:00.000000 ",
                    " 00:00:00.003731 ",
                    " 00:00:00.003803 ",
                ],
            ),
            (
                TimeFormat::Date,
                [
                    "2007-08-06 08:21:24.386989 ",
                    "2007-08-06 08:21:24.390720 ",
                    "2007-08-06 08:21:24.394523 ",
                ],
            ),
            (
                TimeFormat::SinceFirst,
                [
                    " 00:00:00.000000 ",
                    " 00:00:00.003731 ",
                    " 00:00:00.007534 ",
                ],
            ),
        ];
        for (format, want) in cases {
            assert_eq!(stamps(format, ny.clone(), &T), want, "{format:?}");
        }
    }

    #[test]
    fn the_date_appears_once_the_capture_crosses_midnight() {
        let times = [
            Timestamp::new(1_700_006_399, 0),
            Timestamp::new(1_700_006_400, 5_000),
            Timestamp::new(1_699_920_000, 0),
        ];
        assert_eq!(
            stamps(TimeFormat::Clock, TimeZone::UTC, &times),
            [
                "23:59:59.000000 ",
                "2023-11-15 00:00:00.000005 ",
                // The first packet's day again: no date needed.
                "00:00:00.000000 "
            ]
        );
        let s = Stamper::new(TimeFormat::Clock, true);
        assert_eq!(
            s.span(times[0], times[1]),
            "2023-11-14 23:59:59.000000 .. 2023-11-15 00:00:00.000005"
        );
        assert_eq!(
            s.span(times[2], times[0]),
            "00:00:00.000000 .. 23:59:59.000000"
        );
    }

    #[test]
    fn deltas_going_back_in_time_and_past_a_day() {
        let times = [
            Timestamp::new(100, 500_000_000),
            Timestamp::new(100, 0),
            Timestamp::new(100 + 90_061, 0),
        ];
        assert_eq!(
            stamps(TimeFormat::SincePrevious, TimeZone::UTC, &times),
            [
                " 00:00:00.000000 ",
                "-00:00:00.500000 ",
                " 25:01:01.000000 "
            ]
        );
    }

    #[test]
    fn counts_map_as_tcpdump() {
        assert_eq!(TimeFormat::from_count(0), TimeFormat::Clock);
        assert_eq!(TimeFormat::from_count(3), TimeFormat::SincePrevious);
        assert_eq!(TimeFormat::from_count(9), TimeFormat::SinceFirst);
    }
}
