//! What a person at a terminal sees and a pipe does not: colour (unless
//! `NO_COLOR` is set, as no-color.org asks) and progress lines on standard
//! error.
//!
//! A progress line is a few bytes rewritten in place, at most ten times a
//! second; the `indicatif` crate would add four dependencies for what this
//! file does in fifty lines.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whether standard output takes colour: a terminal, and `NO_COLOR` unset
/// or empty.
pub(crate) fn colour_on_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text` in red, or as it is.
pub(crate) fn red(text: &str, colour: bool) -> String {
    paint(text, "31", colour)
}

/// `text` in green, or as it is.
pub(crate) fn green(text: &str, colour: bool) -> String {
    paint(text, "32", colour)
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// One progress line on standard error, shown only when it is a terminal
/// and cleared when done.
#[derive(Debug)]
pub(crate) struct Progress {
    enabled: bool,
    last: Mutex<Option<Instant>>,
}

/// The fastest a progress line is rewritten.
const EVERY: Duration = Duration::from_millis(100);

impl Progress {
    /// A progress line, if standard error is a terminal.
    pub(crate) fn on_terminal() -> Self {
        Self {
            enabled: std::io::stderr().is_terminal(),
            last: Mutex::new(None),
        }
    }

    /// Shows `text` in place of the line before (throttled; `force` shows
    /// it whatever the time).
    pub(crate) fn show(&self, text: &str, force: bool) {
        if !self.enabled {
            return;
        }
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !force && last.is_some_and(|at| at.elapsed() < EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{text}").and_then(|()| err.flush());
    }

    /// Clears the line, if one was shown.
    pub(crate) fn finish(&self) {
        let shown = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .is_some();
        if self.enabled && shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K").and_then(|()| err.flush());
        }
    }
}
