//! Every write to standard output and standard error, handled: a closed
//! pipe ends the command quietly (as `keyseal list | head -1` expects),
//! any other output error is exit 6, and nothing here can panic.

use std::io::{ErrorKind, Write};

use crate::exit::Failure;

/// What a failed write to standard output means for the command.
fn failure(e: &std::io::Error, what: &str) -> Failure {
    if e.kind() == ErrorKind::BrokenPipe {
        Failure::quiet()
    } else {
        Failure::io(format!(
            "could not write {what} to standard output: {e}. Check where standard output goes (a full disk, a closed terminal)"
        ))
    }
}

/// Writes `bytes` to standard output as they are and flushes.
///
/// # Errors
/// [`Failure::quiet`] for a closed pipe; exit 6 for any other error.
pub(crate) fn bytes(bytes: &[u8], what: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| failure(&e, what))
}

/// Writes `text` and a newline to standard output and flushes.
///
/// # Errors
/// As [`bytes`].
pub(crate) fn line(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| failure(&e, "the output"))
}

/// Writes `text` and a newline to standard error. A message that cannot be
/// shown is dropped: there is nowhere left to report it.
pub(crate) fn note(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(text.as_bytes())
        .and_then(|()| err.write_all(b"\n"))
        .and_then(|()| err.flush());
}

/// Writes `text` to standard error without a newline (a prompt), flushed.
pub(crate) fn prompt(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}
