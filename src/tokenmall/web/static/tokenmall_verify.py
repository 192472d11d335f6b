"""Check a tokenmall certificate's proof bundle offline, with Python's standard library only.

Usage: python3 tokenmall_verify.py BUNDLE.json [--key VERIFIER_KEY]

Each event's leaf -> its RFC 9162 inclusion proof -> the root -> the signed checkpoint (C2SP
signed note, Ed25519) -> the verifier key. Pin the key with --key (from the tenant's
/log/key, fetched yourself) rather than trusting the bundle's copy. A bundle's anchor (chain
id, contract, transaction, block) is checked against the checkpoint: same tree size, same
root, the log's tag SHA-256(origin). This file cannot reach the chain: look the transaction
up on it yourself (eth_getTransactionReceipt: its Anchored event must carry the same three).
Exit 0: it holds; 1: it does not (the reason is printed); 2: the file cannot be read.
"""

import base64
import hashlib
import json
import sys
from typing import Any

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
Point = tuple[int, int, int, int]
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _x(y: int, sign: int) -> int:
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if (v * x * x - u) % P:
        x = x * SQRT_M1 % P
    if (v * x * x - u) % P or (x == 0 and sign):
        raise ValueError("not a point")
    return P - x if x & 1 != sign else x


def _point(b: bytes) -> Point:
    y = int.from_bytes(b, "little")
    if y & ((1 << 255) - 1) >= P:
        raise ValueError("not a point")
    x = _x(y & ((1 << 255) - 1), y >> 255)
    y &= (1 << 255) - 1
    return (x, y, 1, x * y % P)


def _add(p: Point, q: Point) -> Point:
    a, b = (p[1] - p[0]) * (q[1] - q[0]) % P, (p[1] + p[0]) * (q[1] + q[0]) % P
    c, d = 2 * p[3] * q[3] * D % P, 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s: int, p: Point) -> Point:
    q: Point = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, p)
        p, s = _add(p, p), s >> 1
    return q


G = _point((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))


def ed25519_ok(public: bytes, sig: bytes, msg: bytes) -> bool:
    """RFC 8032 §5.1.7: [S]B = R + [k]A."""
    try:
        a, r, s = _point(public), _point(sig[:32]), int.from_bytes(sig[32:], "little")
    except ValueError:
        return False
    if len(sig) != 64 or s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % L
    left, right = _mul(s, G), _add(r, _mul(k, a))
    return (left[0] * right[2] - right[0] * left[2]) % P == 0 and (
        left[1] * right[2] - right[1] * left[2]
    ) % P == 0


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def root_from(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2."""
    fn, sn, r = index, size - 1, _h(b"\x00" + leaf)
    for p in path:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _h(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    if sn:
        raise ValueError("proof too short")
    return r


def checkpoint(note: str, key: str) -> tuple[str, int, bytes]:
    """The (origin, size, root) of a signed note that ``key`` (name+hash+base64) signed."""
    name, khash, blob = key.strip().split("+", 2)
    public = base64.b64decode(blob, validate=True)
    want = hashlib.sha256(name.encode() + b"\n" + public).digest()[:4]
    if public[:1] != b"\x01" or len(public) != 33 or want.hex() != khash:
        raise ValueError("the verifier key is malformed")
    body, sigs = note[: note.rindex("\n\n") + 1], note[note.rindex("\n\n") + 2 :].splitlines()
    for line in sigs:
        signer, _, raw = line.removeprefix("\u2014 ").partition(" ")
        signed = base64.b64decode(raw, validate=True)
        if line.startswith("\u2014 ") and signer == name and signed[:4] == want:
            if not ed25519_ok(public[1:], signed[4:], body.encode()):
                raise ValueError("the checkpoint's signature is wrong")
            origin, size, root = body.split("\n")[:3]
            return origin, int(size), base64.b64decode(root, validate=True)
    raise ValueError(f"the checkpoint is not signed by {name}")


def verify(bundle: dict[str, Any], key: str | None = None) -> list[str]:
    """Lines describing what holds; raises ValueError at the first thing that does not."""
    origin, size, root = checkpoint(bundle["checkpoint"], key or bundle["verifier_key"])
    if size != bundle["tree_size"]:
        raise ValueError("the bundle's tree size is not the checkpoint's")
    if bundle["root"] != root.hex():
        raise ValueError("the bundle's root is not the checkpoint's")
    if not bundle["events"]:
        raise ValueError(f"the bundle proves no event of {bundle['token']}")
    said = [f"checkpoint {origin} size {size} root {root.hex()}: signature good"]
    for event in bundle["events"]:
        leaf = base64.b64decode(event["leaf"], validate=True)
        path = [bytes.fromhex(h) for h in event["inclusion"]]
        if root_from(event["index"], size, leaf, path) != root:
            raise ValueError(f"leaf {event['index']} is not in the signed tree")
        fields = json.loads(leaf)
        if fields.get("index") != event["index"] or fields.get("token") != bundle["token"]:
            raise ValueError(f"leaf {event['index']} is not an event of {bundle['token']}")
        if fields.get("tenant") != bundle["tenant"]:
            raise ValueError(f"leaf {event['index']} is not in the log of {bundle['tenant']}")
        said.append(f"leaf {event['index']}: {fields['type']} at {fields['time']}: included")
    anchor = bundle.get("anchor")
    if anchor is not None:
        tag = hashlib.sha256(origin.encode()).hexdigest()
        if (anchor["tree_size"], anchor["root"], anchor["tenant_tag"]) != (size, root.hex(), tag):
            raise ValueError("the anchor does not record this checkpoint (size, root or tag)")
        said.append(
            f"anchor: chain {anchor['chain_id']} contract {anchor['contract']} tx "
            f"{anchor['tx_hash']} block {anchor['block_number']} ({anchor['block_hash']}) "
            "records this checkpoint; not checked on the chain (offline): look it up there"
        )
    return said


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print((__doc__ or "").strip().splitlines()[2])
        return 2
    key = argv[argv.index("--key") + 1] if "--key" in argv else None
    try:
        with open(argv[0], encoding="utf-8") as f:
            bundle = json.load(f)
    except (OSError, ValueError) as error:
        print(f"cannot read {argv[0]}: {error}")
        return 2
    try:
        for line in verify(bundle, key):
            print(line)
    except (ValueError, KeyError, TypeError) as error:
        print(f"FAILED: {error}")
        return 1
    print(f"OK: {bundle['token']} ({len(bundle['events'])} events) is in the log")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
