//! Asking a person at a terminal for a secret: once, without echo.
//!
//! The terminal goes to non-canonical mode with echo and signal keys off
//! for the answer, and back as it was afterwards, however the answer ends:
//! Enter stores it, Ctrl-C or Ctrl-D on an empty line cancels (exit 130),
//! Backspace and Ctrl-U edit. Because the signal keys are read as keys,
//! Ctrl-C never leaves the terminal without its echo (a signal sent from
//! outside, `kill` or `timeout`, ends the process as it ends any program:
//! `stty sane` brings the echo back). The answer is one line: any other
//! control key or escape sequence (a paste of several lines, an arrow key)
//! is refused rather than stored, and what is still queued is discarded.
//! Keys are read from the descriptor itself, so no copy of the answer is
//! left in a standard-library buffer.

use std::io::{IsTerminal, Read};

use zeroize::Zeroizing;

use crate::exit::Failure;
use crate::output;

/// Whether standard input is a terminal (a person, not a pipe).
pub(crate) fn is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

const CTRL_C: u8 = 0x03;
const CTRL_D: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const CTRL_U: u8 = 0x15;
const DELETE: u8 = 0x7f;

/// Shows `prompt` on standard error and reads one line from the terminal
/// on standard input without echo, at most `limit` bytes.
///
/// # Errors
/// Exit 130 when cancelled; exit 6 when the terminal cannot be set up or
/// read, or the answer is longer than `limit`.
#[cfg(unix)]
pub(crate) fn hidden(prompt: &str, limit: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, tcgetattr, tcsetattr};

    let stdin = std::io::stdin();
    let terminal_error = |e: rustix::io::Errno| {
        Failure::io(format!(
            "could not set up the terminal for a hidden answer: {e}. Pipe the value into standard input instead"
        ))
    };
    let original = tcgetattr(&stdin).map_err(terminal_error)?;
    let mut quiet = original.clone();
    quiet
        .local_modes
        .remove(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG);
    quiet.special_codes[SpecialCodeIndex::VMIN] = 1;
    quiet.special_codes[SpecialCodeIndex::VTIME] = 0;
    output::prompt(prompt);
    tcsetattr(&stdin, OptionalActions::Flush, &quiet).map_err(terminal_error)?;
    // Back as it was, on every way out of this function.
    let _restore = Restore {
        original,
        stdin: &stdin,
    };
    let mut answer = read_line(&mut Descriptor(&stdin), limit);
    if answer.is_ok() {
        // More keys already waiting after Enter: a paste of several lines,
        // which must not be cut to its first.
        quiet.special_codes[SpecialCodeIndex::VMIN] = 0;
        let more = tcsetattr(&stdin, OptionalActions::Now, &quiet)
            .map_err(terminal_error)
            .and_then(|()| {
                let mut key = [0u8; 1];
                Descriptor(&stdin)
                    .read(&mut key)
                    .map_err(|e| Failure::io(format!("could not read the terminal: {e}")))
            });
        answer = match more {
            Ok(0) => answer,
            Ok(_) => Err(Failure::usage(
                "the answer was more than one line (a paste?); nothing was stored. Pipe a \
                 value of several lines into standard input instead",
            )),
            Err(failure) => Err(failure),
        };
    }
    output::note("");
    answer
}

#[cfg(not(unix))]
pub(crate) fn hidden(prompt: &str, limit: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let _ = (prompt, limit);
    Err(Failure::usage(
        "a hidden prompt needs a Unix terminal here; pipe the value into standard input instead",
    ))
}

#[cfg(unix)]
struct Restore<'a> {
    original: rustix::termios::Termios,
    stdin: &'a std::io::Stdin,
}

#[cfg(unix)]
impl Drop for Restore<'_> {
    fn drop(&mut self) {
        // Flush: the rest of a paste is discarded, not handed to the shell.
        let _ = rustix::termios::tcsetattr(
            self.stdin,
            rustix::termios::OptionalActions::Flush,
            &self.original,
        );
    }
}

/// Standard input read with `read(2)`, around std's buffer.
#[cfg(unix)]
struct Descriptor<'a>(&'a std::io::Stdin);

#[cfg(unix)]
impl Read for Descriptor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        rustix::io::read(self.0, buf).map_err(std::io::Error::from)
    }
}

/// The keys of one answer, edited as a terminal would.
fn read_line(input: &mut impl Read, limit: usize) -> Result<Zeroizing<Vec<u8>>, Failure> {
    // Sized once: a Vec that grows would leave unwiped copies behind.
    let mut line = Zeroizing::new(Vec::with_capacity(limit.min(64 * 1024)));
    let mut key = [0u8; 1];
    loop {
        let n = match input.read(&mut key) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::io(format!(
                    "could not read the terminal: {e}. Pipe the value into standard input instead"
                )));
            }
        };
        match (n, key[0]) {
            (0, _) | (_, CTRL_D) if line.is_empty() => return Err(cancelled()),
            (0, _) | (_, b'\r' | b'\n' | CTRL_D) => return Ok(line),
            (_, CTRL_C) => return Err(cancelled()),
            (_, DELETE | BACKSPACE) => {
                // A whole UTF-8 character, not one of its bytes.
                while let Some(b) = line.pop() {
                    if b & 0xc0 != 0x80 {
                        break;
                    }
                }
            }
            (_, CTRL_U) => line.clear(),
            (_, b) if b < 0x20 || b == 0x1b => {
                return Err(Failure::usage(
                    "the answer had a control key or escape sequence in it (a paste of several \
                     lines, an arrow key); nothing was stored. Type one line, or pipe the value \
                     into standard input",
                ));
            }
            (_, b) => {
                if line.len() >= limit || line.len() == line.capacity() {
                    return Err(Failure::io(format!(
                        "the answer is longer than {} bytes; nothing was stored. Pipe a longer value into standard input instead",
                        line.capacity().min(limit)
                    )));
                }
                line.push(b);
            }
        }
    }
}

fn cancelled() -> Failure {
    Failure {
        from_store: false,
        code: 130,
        message: "cancelled; nothing was changed. Run the command again to answer".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(keys: &[u8]) -> Result<Vec<u8>, u8> {
        read_line(&mut &keys[..], 100)
            .map(|line| line.to_vec())
            .map_err(|f| f.code)
    }

    #[test]
    fn keys_are_edited_as_a_terminal_edits_them() {
        assert_eq!(answer(b"s3cret\r"), Ok(b"s3cret".to_vec()));
        assert_eq!(answer(b"s3cre\x7ft\n"), Ok(b"s3crt".to_vec()));
        assert_eq!(answer(b"wrong\x15right\r"), Ok(b"right".to_vec()));
        assert_eq!(answer("caf\u{e9}\x7fe\r".as_bytes()), Ok(b"cafe".to_vec()));
        assert_eq!(answer(b"x\x04"), Ok(b"x".to_vec()));
        assert_eq!(answer(b"half\x03"), Err(130));
        assert_eq!(answer(b"\x04"), Err(130));
        assert_eq!(answer(b""), Err(130));
        // A second line, a tab, an arrow key: refused, not stored.
        assert_eq!(answer(b"line one\nline two\r"), Ok(b"line one".to_vec()));
        assert_eq!(answer(b"a\tb\r"), Err(2));
        assert_eq!(answer(b"ab\x1b[D\r"), Err(2));
        assert_eq!(
            read_line(&mut &[b'a'; 200][..], 100)
                .map_err(|f| f.code)
                .err(),
            Some(6)
        );
    }
}
