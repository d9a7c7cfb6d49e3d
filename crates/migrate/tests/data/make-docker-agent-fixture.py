"""Writes docker-agent-mcp-oauth-tokens.enc the way docker-agent seals its
file (pkg/tools/mcp: nonce(12) || AES-256-GCM ciphertext || tag, no
associated data), with Python's `cryptography` (OpenSSL's AES-GCM), an
implementation independent of the one keyseal uses.

The key is bytes 0x00..=0x1f; the nonce is fixed so that the file is
reproducible. The plaintext is what Go's json.Marshal writes for
map[string]*OAuthToken: compact, keys sorted, and <, >, & escaped as
\\u003c, \\u003e, \\u0026.

Run: python3 make-docker-agent-fixture.py
"""

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY = bytes(range(32))
NONCE = bytes.fromhex("00112233445566778899aabb")
PLAINTEXT = (
    b'{"https://mcp.example/a":{"access_token":"A\\u003c1\\u0026","token_type":"Bearer",'
    b'"refresh_token":"R1","expiry":"2026-12-01T10:00:00.123456789Z"},'
    b'"https://mcp.example/b":{"access_token":"B1","token_type":"Bearer"}}'
)

with open("docker-agent-mcp-oauth-tokens.enc", "wb") as f:
    f.write(NONCE + AESGCM(KEY).encrypt(NONCE, PLAINTEXT, None))
