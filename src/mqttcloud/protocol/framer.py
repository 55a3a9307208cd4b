"""Framing: split a byte stream into MQTT control packets (fixed header + body), bounded in size.

Owns: `Framer`.

Rules:
- Incomplete input is normal: `feed` returns only complete frames and keeps the rest (at most one
  partial packet, never more than `max_packet_size` bytes).
- A Remaining Length of more than 4 bytes, or not in its shortest form, raises MalformedPacket
  [MQTT-1.5.5-1]. A packet larger than `max_packet_size` (total size, fixed header included,
  spec 3.1.2.11.4 / 3.2.2.3.6) raises ProtocolError(PACKET_TOO_LARGE) as soon as its header is
  read, before its body is buffered.
- The framer does not look at packet types or flags; `decode` does.
"""

from typing import Final

from mqttcloud.protocol.errors import MalformedPacket, ProtocolError
from mqttcloud.protocol.reason_codes import ReasonCode

#: The largest packet MQTT can express: 1 + 4 header bytes + 268,435,455 body bytes.
MAX_POSSIBLE_PACKET_SIZE: Final = 268_435_460

Frame = tuple[int, bytes]
"""(first byte of the fixed header, body) - pass both to `decode`."""


class Framer:
    """Incremental splitter of an inbound MQTT byte stream."""

    __slots__ = ("_buffer", "_held", "_held_size", "_need", "max_packet_size")

    def __init__(self, max_packet_size: int = MAX_POSSIBLE_PACKET_SIZE) -> None:
        """Args:
        max_packet_size: largest accepted packet in bytes, fixed header included.
        """
        self.max_packet_size = max_packet_size
        self._buffer = b""
        # While a large packet arrives in many chunks, chunks are held in a list and joined once
        # `_need` bytes are there, so a 1 MB packet in 64 KB reads is copied once, not 16 times.
        self._held: list[bytes] = []
        self._held_size = 0
        self._need = 0

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a packet."""
        return len(self._buffer) + self._held_size

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes and return every packet they complete, in order.

        Raises:
            MalformedPacket: a malformed Remaining Length.
            ProtocolError: a packet larger than `max_packet_size` (reason PACKET_TOO_LARGE).
        """
        if self._need:
            self._held.append(bytes(data))
            self._held_size += len(data)
            if len(self._buffer) + self._held_size < self._need:
                return []
            buf = b"".join((self._buffer, *self._held))
            self._held.clear()
            self._held_size = 0
            self._need = 0
        else:
            buf = self._buffer + data if self._buffer else bytes(data)
        frames: list[Frame] = []
        size = len(buf)
        pos = 0
        limit = self.max_packet_size
        while size - pos >= 2:
            # Remaining Length: inline for the 1-byte case (packets under 128 bytes).
            byte = buf[pos + 1]
            if byte < 0x80:
                length = byte
                start = pos + 2
            else:
                length = byte & 0x7F
                shift = 7
                i = pos + 2
                while True:
                    if i >= size:
                        self._buffer = buf[pos:]
                        return frames
                    byte = buf[i]
                    length |= (byte & 0x7F) << shift
                    i += 1
                    if byte < 0x80:
                        if byte == 0:
                            raise MalformedPacket("remaining length not in shortest form")  # [MQTT-1.5.5-1]
                        break
                    if i - pos - 1 >= 4:
                        raise MalformedPacket("remaining length longer than 4 bytes")  # [MQTT-1.5.5-1]
                    shift += 7
                start = i
            end = start + length
            if end - pos > limit:
                raise ProtocolError(
                    f"packet of {end - pos} bytes exceeds maximum {limit}", ReasonCode.PACKET_TOO_LARGE
                )
            if end > size:
                self._need = end - pos
                break
            frames.append((buf[pos], buf[start:end]))
            pos = end
        self._buffer = buf[pos:] if pos < size else b""
        return frames
