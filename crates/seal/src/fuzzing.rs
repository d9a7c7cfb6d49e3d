//! Entry points for the fuzz targets in `fuzz/`: the decoders of the
//! entries, as a store opening a file runs them. Not a stable API.

/// Decodes a body plaintext as the store does; returns the entry count.
pub fn decode_bundle(plaintext: &[u8]) -> Option<usize> {
    crate::entries::Entries::decode_for_fuzzing(plaintext).map(|b| {
        // Encoding what was decoded must succeed and decode to the same.
        let again = b
            .encode_version_1()
            .ok()
            .and_then(|bytes| crate::entries::Entries::decode_for_fuzzing(&bytes));
        assert_eq!(
            again.map(|a| a.len()),
            Some(b.len()),
            "re-encoding changed the bundle"
        );
        b.len()
    })
}

/// Decodes a version-2 index as the store does: the first two bytes
/// give the length of a records region of zeros, the rest is the index
/// plaintext. Returns the entry count.
pub fn decode_index(data: &[u8]) -> Option<usize> {
    let (len, index) = data.split_first_chunk::<2>()?;
    let records = usize::from(u16::from_be_bytes(*len));
    let file = std::sync::Arc::new(vec![0u8; records]);
    crate::entries::Entries::decode_index_for_fuzzing(
        index,
        &file,
        0..records,
        12,
        crate::KeyId::from_bytes([0; crate::KEY_ID_LEN]),
    )
    .map(|b| {
        // Every value's length is the record the index gave it.
        let total: usize = b.iter().map(|(_, e)| e.value.len()).sum();
        assert_eq!(total, records, "the records do not fill their region");
        b.len()
    })
}
