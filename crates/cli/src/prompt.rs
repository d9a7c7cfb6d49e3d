//! Asking a person at a terminal for a secret: once, without echo.
//!
//! The terminal goes to non-canonical mode with echo and signal keys off
//! for the answer, and back as it was afterwards, however the answer ends:
//! Enter stores it, Ctrl-C or Ctrl-D on an empty line cancels (exit 130),
//! Backspace and Ctrl-U edit. Because the signal keys are read as keys, an
//! interrupt never leaves the terminal without its echo.

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
    let answer = read_line(&mut stdin.lock(), limit);
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
        let _ = rustix::termios::tcsetattr(
            self.stdin,
            rustix::termios::OptionalActions::Now,
            &self.original,
        );
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
        code: 130,
        message: "cancelled; nothing was stored. Run the command again to store a value".to_owned(),
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
        assert_eq!(
            read_line(&mut &[b'a'; 200][..], 100)
                .map_err(|f| f.code)
                .err(),
            Some(6)
        );
    }
}
