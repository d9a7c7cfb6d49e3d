//! A tour of the sealed-file format: seal a few OAuth tokens as entries,
//! look at the bytes, open them, and watch each kind of damage give its own
//! error.
//!
//! Run: `cargo run -p keyseal-seal --example demo`

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;

use keyseal_seal::{
    Algorithm, Entries, Entry, Envelope, Error, Key, OpenedEntries, SealedFile, StanzaKind, Unlock,
};

const CONTEXT: &str = "com.example.agent/mcp-oauth";

fn open(bytes: &[u8], kek: &Key, context: &str) -> Result<OpenedEntries, Error> {
    let shared = Arc::new(bytes.to_vec());
    SealedFile::parse(&shared)?.open_entries(&shared, Unlock::Key(kek), context)
}

fn main() -> Result<(), Error> {
    // In keyseal this key is the one item in the OS keyring.
    let kek = Key::generate()?;
    println!("key-encryption key: {kek:?}  (Debug never shows key bytes)");

    let github = br#"{"access_token":"gho_demo","refresh_token":"ghr_demo"}"#;
    let linear = br#"{"access_token":"lin_demo"}"#;
    let mut entries = Entries::new();
    for (name, value) in [
        ("https://mcp.github.example", &github[..]),
        ("https://mcp.linear.example", &linear[..]),
    ] {
        entries.insert(name.to_owned(), Entry::new(value, 1_767_225_600));
    }
    let envelope = Envelope::new(Algorithm::default(), &kek, CONTEXT)?;
    let file = entries.seal(&envelope, CONTEXT, 1)?.file;

    let parsed = SealedFile::parse(&file)?;
    let header = parsed.header();
    let records = parsed.records();
    println!(
        "\nsealed {} entries into a {}-byte file: format v{}, {}, generation {}, primary key {}",
        entries.len(),
        file.len(),
        header.version(),
        header.algorithm(),
        header.generation(),
        header
            .key_id(StanzaKind::Primary)
            .map_or_else(|| "none".to_owned(), |id| id.to_string()),
    );
    println!("\nthe header, as it sits on disk:");
    for (row, chunk) in file
        .iter()
        .take(records.start)
        .collect::<Vec<_>>()
        .chunks(16)
        .enumerate()
    {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        println!("  {:04x}  {}", row * 16, hex.join(" "));
    }
    println!(
        "  ...   then {} bytes of records and the sealed index; the token `gho_demo` appears in the file: {}",
        file.len() - records.start,
        file.windows(8).any(|w| w == b"gho_demo")
    );

    let opened = open(&file, &kek, CONTEXT)?;
    let name = "https://mcp.github.example";
    let value = opened
        .entries
        .get(name)
        .map(|e| e.value.open(&opened.envelope, CONTEXT, name))
        .transpose()?;
    println!(
        "\nopened with the right key and context: {} entries; {name} is identical: {}",
        opened.entries.len(),
        value == Some(&github[..])
    );

    println!("\nwhat goes wrong is named, never guessed:");
    let mut flipped = file.clone();
    if let Some(byte) = flipped.get_mut(records.start + 3) {
        *byte ^= 0x01;
    }
    let mut newer = file.clone();
    if let Some(byte) = newer.get_mut(9) {
        *byte = 9;
    }
    let cases: [(&str, Result<_, Error>); 5] = [
        ("another key", open(&file, &Key::generate()?, CONTEXT)),
        (
            "another store's context",
            open(&file, &kek, "com.example.other/store"),
        ),
        (
            "one flipped bit",
            open(&flipped, &kek, CONTEXT).and_then(|o| {
                o.entries.verify_all(&o.envelope, CONTEXT)?;
                Ok(o)
            }),
        ),
        (
            "cut in half",
            open(
                file.get(..file.len() / 2).unwrap_or_default(),
                &kek,
                CONTEXT,
            ),
        ),
        ("a newer format version", open(&newer, &kek, CONTEXT)),
    ];
    for (what, result) in cases {
        match result {
            Ok(_) => println!("  {what:>24}: opened (unexpected!)"),
            Err(e) => println!("  {what:>24}: {e}"),
        }
    }
    Ok(())
}
