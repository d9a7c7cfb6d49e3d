#!/usr/bin/env python3
"""An independent reader of keyseal format v2, written from docs/FORMAT.md alone.

It checks every vector in docs/vectors/v2.json: parses the header, unwraps
the data key, opens the index, decodes it (postcard varints), and opens every
record with the nonce and tag the index lists, comparing names, update times
and values. It shares no code with the Rust implementation (only the primitives and the
header reading of verify_v1.py, written the same way).

    pip install cryptography pynacl
    python3 docs/vectors/verify_v2.py
"""
import json
import pathlib
import struct
import sys

# The primitives and the header up to the stanzas are the same as in
# version 1: shared with the version-1 reader beside this file.
from verify_v1 import NAMES, NONCE_LEN, aead_open, data_key_for, key_id, read_header

RECORD_LABEL = b"keyseal\x00record\x00v2"


class Cursor:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        assert self.pos + n <= len(self.data), "truncated"
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value


def open_file(data: bytes, key: bytes, context: bytes):
    alg, generation, stanzas, pos = read_header(data, 2)
    n = NONCE_LEN[alg]
    index_nonce = data[pos : pos + n]
    index_len, records_len = struct.unpack(">II", data[pos + n : pos + n + 8])
    header_end = pos + n + 8
    header = data[:header_end]
    records = data[header_end : header_end + records_len]
    sealed_index = data[header_end + records_len :]
    assert len(sealed_index) == index_len and len(records) == records_len
    data_key = data_key_for(stanzas, key, alg, context)
    index, entries = open_index(alg, data_key, index_nonce, header, records, sealed_index, context)
    return NAMES[alg], generation, index, entries


def open_index(alg, data_key, index_nonce, header, records, sealed_index, context):
    """Opens the index (associated data: header and context) and every record it lists."""
    index = aead_open(alg, data_key, index_nonce, header + context, sealed_index)
    c = Cursor(index)
    assert c.take(1) == b"\x01", "index version"
    entries, at = [], 0
    for _ in range(c.varint()):
        name = c.take(c.varint())
        updated = c.varint()
        length = c.varint()
        rnonce = c.take(c.varint())
        tag = c.take(16)
        aad = RECORD_LABEL + bytes([alg]) + struct.pack(">I", len(context)) + context
        aad += struct.pack(">I", len(name)) + name
        value = aead_open(alg, data_key, rnonce, aad, records[at : at + length] + tag)
        entries.append((name.decode(), updated, value, rnonce))
        at += length
    assert c.pos == len(index) and at == len(records)
    return index, entries


def main() -> int:
    path = pathlib.Path(__file__).with_name("v2.json")
    vectors = json.loads(path.read_text())["vectors"]
    for v in vectors:
        data, context, key = bytes.fromhex(v["file"]), v["context"].encode(), bytes.fromhex(v["kek"])
        assert key_id(key).hex() == v["kek_id"], v["name"]
        alg, generation, index, entries = open_file(data, key, context)
        assert (alg, generation, index.hex()) == (v["algorithm"], v["generation"], v["index"]), v["name"]
        expected = [(e["name"], e["updated"], bytes.fromhex(e["value"]), bytes.fromhex(e["nonce"])) for e in v["entries"]]
        assert entries == expected, v["name"]
        print(f"ok  {v['name']}")
    print(f"{len(vectors)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
