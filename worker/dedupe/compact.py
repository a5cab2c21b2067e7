"""Compact in-memory forms of dedupe keys and stored results, for the stores kept in the process.

A bound of hundreds of thousands of entries is only affordable if each costs a few hundred
bytes, while a key as text is 113 bytes and a result's JSON text about 400. So:

- a key becomes a 128-bit BLAKE2b digest: fixed size whatever the key, and with 128 bits two
  distinct keys never meet in practice (a billion entries give odds around 10^-21);
- a result's JSON text is split into what results share (its field names, constant values, the
  shape of its timestamps) and what is its own (the UUIDs, as 16 bytes each, and every digit,
  packed together as one integer). The shared part, the skeleton, is kept once in a bounded
  table that every store of the process uses; past the table's bound a text is kept whole.
  Decoding gives back the very same text, character for character, so a duplicate's answer is
  exactly the one stored.
"""

from __future__ import annotations

import hashlib
import re
from itertools import chain

# How many distinct skeletons are shared (beyond it results are kept whole). Results differ in
# shape mostly by their masked destination, so a few thousand cover a busy pool; the table
# then costs under 2 MB and never grows further.
MAX_SKELETONS = 4096
UUID_PLACEHOLDER = "\x00"
DIGIT_PLACEHOLDER = "\x01"
# JSON text never holds raw control characters, so these placeholders are unambiguous; a text
# that holds one anyway is kept whole.
_UUIDS = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", re.ASCII)
_DIGIT_RUNS = re.compile(r"[0-9]+", re.ASCII)
_DIGITS_TO_PLACEHOLDERS = str.maketrans(dict.fromkeys("0123456789", DIGIT_PLACEHOLDER))
# Python refuses to convert decimal strings longer than 4,300 digits; stay well below.
_MAX_DIGITS = 4000
_WHOLE = 0xFFFF

_skeletons: list[str] = []
_skeleton_ids: dict[str, int] = {}


def key_digest(key: str) -> int:
    """The fixed-size digest a key is held under; equal keys give equal digests. An integer
    because a 128-bit one takes 48 bytes, the bytes object 56."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return int.from_bytes(digest, "little")


def pack_text(text: str) -> bytes:
    """``text`` (a result's JSON) in its compact form, which ``unpack_text`` turns back.

    Three passes of C code (a split, a findall, a translate) rather than one regular expression
    with a callback per value, which took three times as long: this runs on every write.
    """
    if UUID_PLACEHOLDER not in text and DIGIT_PLACEHOLDER not in text:
        pieces = _UUIDS.split(text)
        literal = UUID_PLACEHOLDER.join(pieces[0::2])
        number = "".join(_DIGIT_RUNS.findall(literal))
        skeleton = literal.translate(_DIGITS_TO_PLACEHOLDERS)
        skeleton_id = _skeleton_ids.get(skeleton)
        if skeleton_id is None and len(_skeletons) < MAX_SKELETONS:
            skeleton_id = len(_skeletons)
            _skeletons.append(skeleton)
            _skeleton_ids[skeleton] = skeleton_id
        if skeleton_id is not None and len(number) <= _MAX_DIGITS:
            # A leading 1 keeps the digits' leading zeros through the integer.
            packed = int("1" + number)
            return b"".join(
                (
                    skeleton_id.to_bytes(2, "little"),
                    bytes.fromhex("".join(pieces[1::2]).replace("-", "")),
                    packed.to_bytes((packed.bit_length() + 7) // 8, "little"),
                )
            )
    return keep_whole(text)


def keep_whole(text: str) -> bytes:
    """``text`` as ``unpack_text`` reads it, not compacted: for a result soon replaced, where
    compacting would cost more time than the bytes are worth."""
    return _WHOLE.to_bytes(2, "little") + text.encode("utf-8", "surrogatepass")


def unpack_text(data: bytes) -> str:
    skeleton_id = int.from_bytes(data[:2], "little")
    if skeleton_id == _WHOLE:
        return data[2:].decode("utf-8", "surrogatepass")
    skeleton = _skeletons[skeleton_id]
    pieces = skeleton.split(UUID_PLACEHOLDER)
    offset = 2
    uuids = []
    for _ in range(len(pieces) - 1):
        uuid_hex = data[offset : offset + 16].hex()
        offset += 16
        uuids.append(
            f"{uuid_hex[:8]}-{uuid_hex[8:12]}-{uuid_hex[12:16]}-{uuid_hex[16:20]}-{uuid_hex[20:]}"
        )
    with_uuids = "".join(chain.from_iterable(zip(pieces, [*uuids, ""], strict=True)))
    number = str(int.from_bytes(data[offset:], "little"))[1:]
    literal = with_uuids.split(DIGIT_PLACEHOLDER)
    return "".join(chain.from_iterable(zip(literal, [*number, ""], strict=True)))
