//! Report stage: what the operator reads. Text for people, JSON Lines for programs, and one HTML
//! page to attach to a ticket (`--html`); text and JSON are a
//! contract (stable names, a `type` on every JSON line, a schema version in the `meta` line).

pub mod community_id;
pub mod ecs;
pub mod findings;
pub mod fmt;
pub mod fold;
pub mod html;
mod jsonw;
pub mod metrics;
pub mod packets;
pub mod paint;
pub mod summary;
pub mod syslog;
pub mod time;
pub mod tunnels;
pub mod verdict;

/// How the run shows what it found: text or JSON lines, detail, frame numbers, packet lines
/// or not. File and live runs and the packet printer all take this one set.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutputOptions {
    pub json: bool,
    /// `-v`: payload details and every ESP packet.
    pub verbose: u8,
    /// tcpdump's `-#`: print the frame number first.
    pub frame_numbers: bool,
    /// `-q`: no per-packet lines.
    pub quiet: bool,
    /// tcpdump's `-t` … `-ttttt`.
    pub time: time::TimeFormat,
    /// `--utc`: packet times in UTC rather than the local zone.
    pub utc: bool,
    /// `--json-format ecs`: the JSON lines go out as ECS documents (see [`ecs`]).
    pub ecs: bool,
}

/// Bumped when a JSON line changes incompatibly; `docs/schema/CHANGELOG.md` says what changed.
pub const JSON_SCHEMA_VERSION: u32 = 2;
