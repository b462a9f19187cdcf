"""The 32-bit hash Android shows for a signer certificate (`dumpsys package`: "signatures=[1a2b3c4d]").

A phone shows no digest of its apps' signers over ADB, only Signature.hashCode(); the agent compares it with the
hashes of the pinned certificates (device_agent/collect.py), and the simulator shows it as a phone would.
"""

from __future__ import annotations


def java_signature_hashcode(cert_der: bytes) -> str:
    """Android's Signature.hashCode(): Java Arrays.hashCode over signed bytes, shown as Integer.toHexString."""
    value = 1
    for byte in cert_der:
        value = (31 * value + (byte - 256 if byte > 127 else byte)) & 0xFFFFFFFF
    return format(value, "x")
