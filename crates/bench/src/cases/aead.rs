//! AEAD throughput.

use std::hint::black_box;

use keyseal_seal::{Algorithm, Key};

use crate::common::{Result, contender, filler, interleave};
use crate::stats::Summary;

use super::{Bench, summary};

/// One sealer on 4 MiB.
#[derive(Debug)]
pub(crate) struct AeadRow {
    pub(crate) algorithm: &'static str,
    pub(crate) bytes: usize,
    pub(crate) seal: Summary,
    pub(crate) open: Summary,
    pub(crate) memcpy: Summary,
}

impl Bench {
    pub(crate) fn aead(&self) -> Result<Vec<AeadRow>> {
        const LEN: usize = 4 << 20;
        let plaintext = filler(LEN as u64);
        let mut copy = vec![0u8; LEN];
        let key = Key::generate()?;
        let rounds = self.plan.rounds(40);
        let mut rows = Vec::new();
        for algorithm in [Algorithm::Aes256Gcm, Algorithm::XChaCha20Poly1305] {
            let sealer = algorithm.sealer();
            let nonce = vec![7u8; algorithm.nonce_len()];
            let sealed = sealer.seal(&key, &nonce, b"bench", &plaintext)?;
            let [seal, open, memcpy] = interleave(
                2,
                rounds,
                [
                    contender("seal", |_| {
                        black_box(sealer.seal(&key, &nonce, b"bench", black_box(&plaintext))?);
                        Ok(())
                    }),
                    contender("open", |_| {
                        black_box(sealer.open(&key, &nonce, b"bench", black_box(&sealed))?);
                        Ok(())
                    }),
                    contender("memcpy", |_| {
                        copy.copy_from_slice(black_box(&plaintext));
                        black_box(&copy);
                        Ok(())
                    }),
                ],
            )?;
            rows.push(AeadRow {
                algorithm: algorithm.name(),
                bytes: LEN,
                seal: summary(&seal)?,
                open: summary(&open)?,
                memcpy: summary(&memcpy)?,
            });
        }
        Ok(rows)
    }
}
