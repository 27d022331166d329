"""Protocol buffer wire format, by hand: varints, tags, length-delimited fields.

Hand-written rather than generated because the exposition messages are small
and fixed, no ``protoc`` is needed, every failure can name its byte offset, and
a hostile length prefix is checked against the bytes actually present before
anything is sliced or allocated.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")

# One decoded field: (number, wire type, value). The value is an int for VARINT,
# the payload's (start, end) offsets for LEN, and the raw offset for FIXED64/32.
Field = tuple[int, int, int | tuple[int, int]]


class WireError(Exception):
    """Malformed wire data at byte ``offset`` (absolute within the input)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise WireError("unexpected end of data in varint", pos)
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    start = pos
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        if pos >= end:
            raise WireError("unexpected end of data in varint", start)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            if result >> 64:
                raise WireError("varint overflows 64 bits", start)
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes", start)


def iter_fields(buf: bytes, pos: int, end: int) -> Iterator[Field]:
    """Every field of the message in ``buf[pos:end]``, with bounds checked."""
    while pos < end:
        tag_at = pos
        tag, pos = read_varint(buf, pos, end)
        number = tag >> 3
        wire = tag & 7
        if number == 0:
            raise WireError("invalid field number 0", tag_at)
        if wire == VARINT:
            value, pos = read_varint(buf, pos, end)
            yield number, wire, value
        elif wire == LEN:
            length, pos = read_varint(buf, pos, end)
            if length > end - pos:
                raise WireError(
                    f"field {number} claims {length} bytes, only {end - pos} left", tag_at
                )
            yield number, wire, (pos, pos + length)
            pos += length
        elif wire == FIXED64:
            if pos + 8 > end:
                raise WireError(f"field {number}: unexpected end of data in 64-bit value", tag_at)
            yield number, wire, pos
            pos += 8
        elif wire == FIXED32:
            if pos + 4 > end:
                raise WireError(f"field {number}: unexpected end of data in 32-bit value", tag_at)
            yield number, wire, pos
            pos += 4
        else:
            raise WireError(f"field {number}: unsupported wire type {wire}", tag_at)


def as_double(buf: bytes, wire: int, value: int | tuple[int, int], at: int) -> float:
    if wire == FIXED64 and isinstance(value, int):
        result: float = _DOUBLE.unpack_from(buf, value)[0]
        return result
    if wire == FIXED32 and isinstance(value, int):
        result = _FLOAT.unpack_from(buf, value)[0]
        return result
    raise WireError("expected a double", at)


def as_int(wire: int, value: int | tuple[int, int], at: int) -> int:
    if wire != VARINT or not isinstance(value, int):
        raise WireError("expected a varint", at)
    return value


def as_span(wire: int, value: int | tuple[int, int], at: int) -> tuple[int, int]:
    if wire != LEN or not isinstance(value, tuple):
        raise WireError("expected a length-delimited field", at)
    return value


def as_str(buf: bytes, wire: int, value: int | tuple[int, int], at: int) -> str:
    s, e = as_span(wire, value, at)
    try:
        return buf[s:e].decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("string is not valid UTF-8", s) from None


def to_int64(value: int) -> int:
    """A varint read as a two's-complement int64 (proto ``int64``)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def zigzag_decode(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def packed_or_single(
    buf: bytes, wire: int, value: int | tuple[int, int], at: int, *, double: bool
) -> list[int] | list[float]:
    """A repeated scalar field occurrence: packed (LEN) or one unpacked element."""
    if wire == LEN and isinstance(value, tuple):
        s, e = value
        if double:
            if (e - s) % 8:
                raise WireError("packed doubles not a multiple of 8 bytes", s)
            return list(struct.unpack_from(f"<{(e - s) // 8}d", buf, s))
        ints: list[int] = []
        pos = s
        while pos < e:
            v, pos = read_varint(buf, pos, e)
            ints.append(v)
        return ints
    if double:
        return [as_double(buf, wire, value, at)]
    return [as_int(wire, value, at)]


# --- writing ---------------------------------------------------------------


def varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def zigzag_encode(value: int) -> int:
    return (value << 1) ^ (value >> 63) if value < 0 else value << 1


def key(number: int, wire: int) -> bytes:
    return varint((number << 3) | wire)


def len_field(number: int, payload: bytes) -> bytes:
    return key(number, LEN) + varint(len(payload)) + payload


def str_field(number: int, text: str) -> bytes:
    return len_field(number, text.encode("utf-8"))


def double_field(number: int, value: float) -> bytes:
    return key(number, FIXED64) + _DOUBLE.pack(value)


def varint_field(number: int, value: int) -> bytes:
    return key(number, VARINT) + varint(value)


def packed_doubles(number: int, values: list[float] | tuple[float, ...]) -> bytes:
    return len_field(number, struct.pack(f"<{len(values)}d", *values))


def packed_varints(number: int, values: list[int]) -> bytes:
    return len_field(number, b"".join(varint(v) for v in values))
