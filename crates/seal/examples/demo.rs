//! A tour of the sealed-file format: seal a few OAuth tokens, look at the
//! bytes, open them, and watch each kind of damage give its own error.
//!
//! Run: `cargo run -p keyseal-seal --example demo`

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use keyseal_seal::{Algorithm, Envelope, Error, ExposeSecret, Key, SealedFile, StanzaKind};

const CONTEXT: &str = "com.example.agent/mcp-oauth";

fn main() -> Result<(), Error> {
    // In keyseal this key is the one item in the OS keyring.
    let kek = Key::generate()?;
    println!("key-encryption key: {kek:?}  (Debug never shows key bytes)");

    let tokens = br#"{"https://mcp.github.example":{"access_token":"gho_demo","refresh_token":"ghr_demo"},"https://mcp.linear.example":{"access_token":"lin_demo"}}"#;
    let envelope = Envelope::new(Algorithm::default(), &kek, CONTEXT)?;
    let file = envelope.seal(1, CONTEXT, tokens)?;

    let parsed = SealedFile::parse(&file)?;
    let header = parsed.header();
    println!(
        "\nsealed {} bytes of tokens into a {}-byte file: format v{}, {}, generation {}, primary key {}",
        tokens.len(),
        file.len(),
        header.version(),
        header.algorithm(),
        header.generation(),
        header
            .key_id(StanzaKind::Primary)
            .map_or_else(|| "none".to_owned(), |id| id.to_string()),
    );
    println!("\nthe header, as it sits on disk:");
    let header_len = file.len() - (tokens.len() + keyseal_seal::TAG_LEN);
    for (row, chunk) in file
        .iter()
        .take(header_len)
        .collect::<Vec<_>>()
        .chunks(16)
        .enumerate()
    {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        println!("  {:04x}  {}", row * 16, hex.join(" "));
    }
    println!(
        "  ...   then {} bytes of ciphertext; the plaintext token `gho_demo` appears in the file: {}",
        file.len() - header_len,
        file.windows(8).any(|w| w == b"gho_demo")
    );

    let opened = parsed.open(&kek, CONTEXT)?;
    println!(
        "\nopened with the right key and context: {} bytes, identical: {}",
        opened.plaintext.expose_secret().len(),
        opened.plaintext.expose_secret() == tokens
    );

    println!("\nwhat goes wrong is named, never guessed:");
    let mut flipped = file.clone();
    if let Some(byte) = flipped.get_mut(150) {
        *byte ^= 0x01;
    }
    let mut newer = file.clone();
    if let Some(byte) = newer.get_mut(9) {
        *byte = 2;
    }
    let cases: [(&str, Result<_, Error>); 5] = [
        (
            "another key",
            SealedFile::parse(&file).and_then(|f| f.open(&Key::generate()?, CONTEXT)),
        ),
        (
            "another store's context",
            SealedFile::parse(&file).and_then(|f| f.open(&kek, "com.example.other/store")),
        ),
        (
            "one flipped bit",
            SealedFile::parse(&flipped).and_then(|f| f.open(&kek, CONTEXT)),
        ),
        (
            "cut in half",
            SealedFile::parse(file.get(..file.len() / 2).unwrap_or_default())
                .and_then(|f| f.open(&kek, CONTEXT)),
        ),
        (
            "a newer format version",
            SealedFile::parse(&newer).and_then(|f| f.open(&kek, CONTEXT)),
        ),
    ];
    for (what, result) in cases {
        match result {
            Ok(_) => println!("  {what:>24}: opened (unexpected!)"),
            Err(e) => println!("  {what:>24}: {e}"),
        }
    }
    Ok(())
}
