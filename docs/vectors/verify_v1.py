#!/usr/bin/env python3
"""An independent reader of keyseal format v1, written from docs/FORMAT.md alone.

It checks every vector in docs/vectors/v1.json: parses the header, derives the
key ids with HKDF-SHA256, unwraps the data key from each stanza, opens the
body, and compares with the expected plaintext. It shares no code with the
Rust implementation.

    pip install cryptography pynacl
    python3 docs/vectors/verify_v1.py
"""
import json
import pathlib
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt

MAGIC = b"keyseal\x00"
NONCE_LEN = {1: 12, 2: 24}
NAMES = {1: "AES-256-GCM", 2: "XChaCha20-Poly1305"}


def key_id(key: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 16, b"keyseal", b"keyseal/v1/key-id").derive(key)


def aead_open(alg: int, key: bytes, nonce: bytes, aad: bytes, ct: bytes) -> bytes:
    if alg == 1:
        return AESGCM(key).decrypt(nonce, ct, aad)
    return crypto_aead_xchacha20poly1305_ietf_decrypt(ct, aad, nonce, key)


def read_header(data: bytes, version: int):
    """The fixed fields and the stanzas; returns (alg, generation, stanzas, end)."""
    assert data[:8] == MAGIC
    found, alg, flags, generation, count = struct.unpack(">HBBQB", data[8:21])
    assert found == version and flags == 0 and 1 <= count <= 8
    n = NONCE_LEN[alg]
    pos, stanzas = 21, []
    for _ in range(count):
        kind, kid = data[pos], data[pos + 1 : pos + 17]
        nonce = data[pos + 17 : pos + 17 + n]
        wrapped = data[pos + 17 + n : pos + 17 + n + 48]
        stanzas.append((kind, kid, nonce, wrapped))
        pos += 1 + 16 + n + 48
    return alg, generation, stanzas, pos


def data_key_for(stanzas, key: bytes, alg: int, context: bytes) -> bytes:
    """Unwraps the data key from the stanza made for `key`. The stanza's
    associated data says version 1 in every file version."""
    kind, kid, nonce, wrapped = next(s for s in stanzas if s[1] == key_id(key))
    wrap_aad = MAGIC + struct.pack(">HBB", 1, alg, kind) + kid + context
    return aead_open(alg, key, nonce, wrap_aad, wrapped)


def open_file(data: bytes, key: bytes, context: bytes):
    alg, generation, stanzas, pos = read_header(data, 1)
    n = NONCE_LEN[alg]
    body_nonce = data[pos : pos + n]
    (body_len,) = struct.unpack(">I", data[pos + n : pos + n + 4])
    header, body = data[: pos + n + 4], data[pos + n + 4 :]
    assert len(body) == body_len
    data_key = data_key_for(stanzas, key, alg, context)
    return NAMES[alg], generation, aead_open(alg, data_key, body_nonce, header + context, body)


def main() -> int:
    path = pathlib.Path(__file__).with_name("v1.json")
    vectors = json.loads(path.read_text())["vectors"]
    for v in vectors:
        data, context = bytes.fromhex(v["file"]), v["context"].encode()
        keys = [(v["kek"], v["kek_id"])]
        if v["recovery_key"]:
            keys.append((v["recovery_key"], v["recovery_key_id"]))
        for key, kid in keys:
            key = bytes.fromhex(key)
            assert key_id(key).hex() == kid, v["name"]
            alg, generation, plain = open_file(data, key, context)
            assert (alg, generation, plain.hex()) == (v["algorithm"], v["generation"], v["plaintext"]), v["name"]
        print(f"ok  {v['name']}")
    print(f"{len(vectors)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
