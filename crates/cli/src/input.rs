//! Reading a secret from standard input: bounded, and without leaving
//! plaintext copies behind in freed memory.

use std::io::{ErrorKind, Read};

use zeroize::Zeroizing;

use crate::exit::Failure;

/// Reads standard input to its end into a zeroizing buffer, refusing more
/// than `limit` bytes: reading stops as soon as the input is longer, so a
/// huge input never reaches memory.
///
/// The buffer grows by moving into a new, larger zeroizing buffer, so every
/// buffer that held part of the secret is wiped when it is dropped (a `Vec`
/// that reallocates itself would free its old storage unwiped).
///
/// # Errors
/// Exit 6 when reading fails or the input is longer than `limit`; `what`
/// names the input in the message.
pub(crate) fn secret(limit: usize, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut stdin = std::io::stdin().lock();
    let mut buf = Zeroizing::new(Vec::with_capacity(limit.clamp(1, 64 * 1024)));
    let mut chunk = Zeroizing::new([0u8; 8 * 1024]);
    loop {
        let n = match stdin.read(&mut chunk[..]) {
            Ok(0) => return Ok(buf),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::io(format!(
                    "could not read {what} from standard input: {e}. Check what feeds standard input, or run the command at a terminal"
                )));
            }
        };
        let read = chunk.get(..n).unwrap_or_default();
        if buf.len().saturating_add(read.len()) > limit {
            return Err(Failure::io(format!(
                "{what} on standard input is longer than {limit} bytes (the store file's size limit); nothing was stored. Store a smaller value, and keep large data in a file of its own"
            )));
        }
        if buf.capacity() - buf.len() < read.len() {
            let wanted = buf
                .len()
                .saturating_add(read.len())
                .max(buf.capacity().saturating_mul(2))
                .min(limit);
            let mut bigger = Zeroizing::new(Vec::with_capacity(wanted));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        buf.extend_from_slice(read);
    }
}
