//! Colour in text output (`--color`): severities, finding ids and peer addresses, so an
//! operator's eye finds the errors in a long run. Off for JSON, for pipes and files, and when
//! `NO_COLOR` is set, unless `--color always`.
//!
//! The choice is made once per process and kept here rather than passed down: the writers it
//! touches (finding blocks, packet lines, the verdict) take no options, and a style is only a
//! prefix and a suffix around text that is already escaped (peer strings go through
//! `event::text::printable`, so no packet can carry its own escape sequences).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use anstyle::{AnsiColor, Effects, Style};

use crate::diagnose::Severity;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Decides once, at start-up. `Auto` follows anstream's rules for standard output: a
/// terminal, `NO_COLOR` unset, `TERM` not `dumb` (`CLICOLOR_FORCE` forces it on).
pub fn init(choice: ColorChoice, json: bool) {
    let on = !json
        && match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
            }
        };
    ENABLED.store(on, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// `text` in `style` when colour is on, as it is otherwise.
pub struct Painted<T>(pub Style, pub T);

impl<T: fmt::Display> Painted<T> {
    fn write(&self, f: &mut fmt::Formatter<'_>, on: bool) -> fmt::Result {
        if on {
            write!(f, "{}{}{}", self.0.render(), self.1, self.0.render_reset())
        } else {
            self.1.fmt(f)
        }
    }
}

impl<T: fmt::Display> fmt::Display for Painted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, enabled())
    }
}

pub fn severity_style(s: Severity) -> Style {
    let color = match s {
        Severity::Error => AnsiColor::Red,
        Severity::Warning => AnsiColor::Yellow,
        Severity::Info => AnsiColor::Cyan,
    };
    Style::new()
        .fg_color(Some(color.into()))
        .effects(Effects::BOLD)
}

/// A severity word (`ERROR`, `warning`…) in its colour.
pub fn severity<T: fmt::Display>(s: Severity, text: T) -> Painted<T> {
    Painted(severity_style(s), text)
}

/// A finding id (`ike_unanswered`).
pub fn kind<T: fmt::Display>(text: T) -> Painted<T> {
    Painted(Style::new().effects(Effects::BOLD), text)
}

/// A peer address or endpoint.
pub fn addr<T: fmt::Display>(text: T) -> Painted<T> {
    Painted(Style::new().fg_color(Some(AnsiColor::Green.into())), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The switch is process-wide and other unit tests render text, so this one never turns
    /// it on: it renders both ways directly.
    struct Both<T>(Painted<T>, bool);

    impl<T: fmt::Display> fmt::Display for Both<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.write(f, self.1)
        }
    }

    #[test]
    fn styles_only_when_on() {
        assert_eq!(
            Both(severity(Severity::Error, "ERROR"), true).to_string(),
            "\u{1b}[1m\u{1b}[31mERROR\u{1b}[0m"
        );
        assert_eq!(
            Both(severity(Severity::Error, "ERROR"), false).to_string(),
            "ERROR"
        );
        assert_eq!(
            severity(Severity::Info, "x").to_string(),
            "x",
            "off by default"
        );
        init(ColorChoice::Never, false);
        assert!(!enabled());
    }
}
