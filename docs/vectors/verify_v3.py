#!/usr/bin/env python3
"""An independent reader of keyseal format v3, written from docs/FORMAT.md alone.

It checks every vector in docs/vectors/v3.json: parses the header with its
two stanza kinds, unwraps the data key with the primary key and, where the
vector has one, with the recovery identity through the X25519 recipient
stanza (X25519, HKDF-SHA256, the file's AEAD), opens the index and every
record, and compares names, update times and values. It shares no code with
the Rust implementation (only the primitives of verify_v1.py and the index
and record reader of verify_v2.py: version 3 keeps that layout).

    apt-get install python3-cryptography python3-nacl   (or pip install cryptography pynacl)
    python3 docs/vectors/verify_v3.py                   (cargo xtask vectors runs all three)
"""
import json
import pathlib
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verify_v1 import MAGIC, NAMES, NONCE_LEN, aead_open, key_id
from verify_v2 import Cursor, open_index

PRIMARY, RECIPIENT = 1, 3


def public_of(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def recipient_id(public: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 16, b"keyseal", b"keyseal/v3/recipient-id").derive(public)


def read_header(data: bytes):
    """Returns (alg, generation, stanzas, end of the header, index length, records length)."""
    assert data[:8] == MAGIC
    version, alg, flags, generation, count = struct.unpack(">HBBQB", data[8:21])
    assert version == 3 and flags == 0 and 1 <= count <= 8
    n = NONCE_LEN[alg]
    c = Cursor(data)
    c.pos = 21
    stanzas = []
    for _ in range(count):
        kind = c.take(1)[0]
        if kind == PRIMARY:
            stanza = {"kind": kind, "id": c.take(16)}
        elif kind == RECIPIENT:
            recipient, ephemeral = c.take(32), c.take(32)
            stanza = {"kind": kind, "id": recipient_id(recipient), "recipient": recipient, "ephemeral": ephemeral}
        else:
            raise AssertionError(f"stanza kind {kind} is not in version 3")
        stanza["nonce"], stanza["wrapped"] = c.take(n), c.take(48)
        stanzas.append(stanza)
    kinds = [s["kind"] for s in stanzas]
    assert len(set(kinds)) == len(kinds), "two stanzas of one kind"
    index_nonce = c.take(n)
    index_len, records_len = struct.unpack(">II", c.take(8))
    return alg, generation, stanzas, c.pos, index_nonce, index_len, records_len


def data_key_with_primary(stanzas, alg: int, key: bytes, context: bytes) -> bytes:
    s = next(s for s in stanzas if s["kind"] == PRIMARY and s["id"] == key_id(key))
    aad = MAGIC + struct.pack(">HBB", 1, alg, PRIMARY) + s["id"] + context
    return aead_open(alg, key, s["nonce"], aad, s["wrapped"])


def data_key_with_identity(stanzas, alg: int, identity: bytes, context: bytes) -> bytes:
    private = X25519PrivateKey.from_private_bytes(identity)
    public = public_of(private)
    s = next(s for s in stanzas if s["kind"] == RECIPIENT and s["recipient"] == public)
    shared = private.exchange(X25519PublicKey.from_public_bytes(s["ephemeral"]))
    assert shared != bytes(32), "non-contributory share"
    wrap_key = HKDF(hashes.SHA256(), 32, s["ephemeral"] + s["recipient"], b"keyseal/v3/x25519-recovery").derive(shared)
    aad = MAGIC + struct.pack(">HBB", 3, alg, RECIPIENT) + s["recipient"] + s["ephemeral"] + context
    return aead_open(alg, wrap_key, s["nonce"], aad, s["wrapped"])


def open_file(data: bytes, data_key: bytes, context: bytes):
    alg, generation, _, header_end, index_nonce, index_len, records_len = read_header(data)
    header = data[:header_end]
    records = data[header_end : header_end + records_len]
    sealed_index = data[header_end + records_len :]
    assert len(sealed_index) == index_len and len(records) == records_len
    index, entries = open_index(alg, data_key, index_nonce, header, records, sealed_index, context)
    return NAMES[alg], generation, index, entries


def main() -> int:
    path = pathlib.Path(__file__).with_name("v3.json")
    vectors = json.loads(path.read_text())["vectors"]
    recovered = 0
    for v in vectors:
        data, context, key = bytes.fromhex(v["file"]), v["context"].encode(), bytes.fromhex(v["kek"])
        assert key_id(key).hex() == v["kek_id"], v["name"]
        alg, _, stanzas, _, index_nonce, *_ = read_header(data)
        primary = next(s for s in stanzas if s["kind"] == PRIMARY)
        # What the writer drew, in the order FORMAT.md gives, is in the file.
        assert primary["nonce"].hex() == v["primary_nonce"] and index_nonce.hex() == v["index_nonce"], v["name"]
        keys = [data_key_with_primary(stanzas, alg, key, context)]
        r = v.get("recovery")
        if r:
            identity = bytes.fromhex(r["identity"])
            public = public_of(X25519PrivateKey.from_private_bytes(identity))
            assert public.hex() == r["recipient"] and recipient_id(public).hex() == r["recipient_id"], v["name"]
            stanza = next(s for s in stanzas if s["kind"] == RECIPIENT)
            share = public_of(X25519PrivateKey.from_private_bytes(bytes.fromhex(r["ephemeral_scalar"])))
            assert stanza["ephemeral"] == share and stanza["nonce"].hex() == r["nonce"], v["name"]
            keys.append(data_key_with_identity(stanzas, alg, identity, context))
            recovered += 1
        expected = [(e["name"], e["updated"], bytes.fromhex(e["value"]), bytes.fromhex(e["nonce"])) for e in v["entries"]]
        for data_key in keys:
            assert data_key.hex() == v["data_key"], v["name"]
            found = open_file(data, data_key, context)
            assert found == (v["algorithm"], v["generation"], bytes.fromhex(v["index"]), expected), v["name"]
        print(f"ok  {v['name']}" + ("  (primary and recovery)" if r else "  (primary)"))
    assert recovered >= 2, "too few recovery vectors"
    print(f"{len(vectors)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
