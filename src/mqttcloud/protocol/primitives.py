"""MQTT data representations (spec 1.5): integers, Variable Byte Integer, UTF-8 string, binary data.

Owns: the decoders (`decode_*(buf, offset, end) -> (value, new_offset)`, reading a memoryview
without copying until a value is produced) and the encoders (`encode_*(value) -> bytes`).

Rule: decoders raise only `MalformedPacket`; encoders raise `ValueError` for values that cannot be
represented (a caller bug, never peer input). `end` bounds every read so a field can never run
past the packet (or property block) it belongs to.
"""

from typing import Final

from mqttcloud.protocol.errors import MalformedPacket

MAX_VARINT: Final = 268_435_455  # 4 bytes of 7 bits [MQTT-1.5.5-1]
MAX_U16: Final = 0xFFFF
MAX_U32: Final = 0xFFFF_FFFF

# Pre-encoded varints for small values: remaining lengths and property lengths are mostly tiny.
_SMALL_VARINTS: Final = tuple(bytes((i,)) for i in range(128))


def decode_varint(buf: memoryview | bytes, offset: int, end: int | None = None) -> tuple[int, int]:
    """Decode a Variable Byte Integer at `offset`.

    Raises:
        MalformedPacket: truncated, longer than 4 bytes, or not in its shortest form
            [MQTT-1.5.5-1].
    """
    limit = len(buf) if end is None else end
    value = 0
    shift = 0
    for i in range(4):
        pos = offset + i
        if pos >= limit:
            raise MalformedPacket("truncated variable byte integer")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and i > 0:
                # [MQTT-1.5.5-1] the encoded value MUST use the minimum number of bytes necessary
                raise MalformedPacket("variable byte integer not in shortest form")
            return value, pos + 1
        shift += 7
    raise MalformedPacket("variable byte integer longer than 4 bytes")


def encode_varint(value: int) -> bytes:
    """Encode a Variable Byte Integer (0..268,435,455) in its shortest form."""
    if value < 128:
        if value < 0:
            raise ValueError(f"variable byte integer out of range: {value}")
        return _SMALL_VARINTS[value]
    if value > MAX_VARINT:
        raise ValueError(f"variable byte integer out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_u8(buf: memoryview | bytes, offset: int, end: int) -> tuple[int, int]:
    if offset + 1 > end:
        raise MalformedPacket("truncated byte")
    return buf[offset], offset + 1


def decode_u16(buf: memoryview | bytes, offset: int, end: int) -> tuple[int, int]:
    if offset + 2 > end:
        raise MalformedPacket("truncated two byte integer")
    return (buf[offset] << 8) | buf[offset + 1], offset + 2


def decode_u32(buf: memoryview | bytes, offset: int, end: int) -> tuple[int, int]:
    if offset + 4 > end:
        raise MalformedPacket("truncated four byte integer")
    return int.from_bytes(buf[offset : offset + 4], "big"), offset + 4


def encode_u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def encode_u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def decode_utf8(buf: memoryview | bytes, offset: int, end: int) -> tuple[str, int]:
    """Decode a UTF-8 Encoded String (2-byte length + bytes).

    Raises:
        MalformedPacket: truncated; ill-formed UTF-8, including encoded surrogates
            [MQTT-1.5.4-1]; or containing U+0000 [MQTT-1.5.4-2]. A leading U+FEFF is kept as
            a character, never stripped [MQTT-1.5.4-3].
    """
    if offset + 2 > end:
        raise MalformedPacket("truncated string length")
    start = offset + 2
    stop = start + ((buf[offset] << 8) | buf[offset + 1])
    if stop > end:
        raise MalformedPacket("string length exceeds packet")
    try:
        text = str(buf[start:stop], "utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket("ill-formed UTF-8 string") from None  # [MQTT-1.5.4-1]
    if "\x00" in text:
        raise MalformedPacket("UTF-8 string contains U+0000")  # [MQTT-1.5.4-2]
    return text, stop


def encode_utf8(text: str) -> bytes:
    """Encode a UTF-8 Encoded String. Raises ValueError if too long, has U+0000 or surrogates."""
    data = text.encode("utf-8")  # surrogates raise UnicodeEncodeError (a ValueError)
    if len(data) > MAX_U16:
        raise ValueError("UTF-8 string longer than 65535 bytes")
    if b"\x00" in data:
        raise ValueError("UTF-8 string contains U+0000")  # [MQTT-1.5.4-2]
    return len(data).to_bytes(2, "big") + data


def decode_binary(buf: memoryview | bytes, offset: int, end: int) -> tuple[bytes, int]:
    """Decode Binary Data (2-byte length + bytes)."""
    if offset + 2 > end:
        raise MalformedPacket("truncated binary length")
    start = offset + 2
    stop = start + ((buf[offset] << 8) | buf[offset + 1])
    if stop > end:
        raise MalformedPacket("binary data length exceeds packet")
    return bytes(buf[start:stop]), stop


def encode_binary(data: bytes) -> bytes:
    if len(data) > MAX_U16:
        raise ValueError("binary data longer than 65535 bytes")
    return len(data).to_bytes(2, "big") + data
