"""Hash, encoding and compression built-ins: md5, sha, sha256, base64_encode/decode,
json_encode/decode, bin2hexstr, hexstr2bin, gzip/gunzip, zip/unzip, zip_compress/uncompress.

Rule: hashes are lowercase hex, bin2hexstr is uppercase hex (as EMQX's docs show); a decoded
binary that is valid UTF-8 is a string, otherwise it stays bytes.
"""

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable
from typing import Final

from mqttcloud.rulesql.errors import EvalError
from mqttcloud.rulesql.functions.base import Function, fixed, want_bytes, want_str
from mqttcloud.rulesql.values import json_decode, json_encode

_MAX_INFLATED: Final = 16 * 1024 * 1024  # bound what a decompression may produce


def binary(data: bytes) -> str | bytes:
    """A binary result: text when it is UTF-8, bytes otherwise."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data


def _hash(name: str) -> Function:
    return fixed(lambda v: hashlib.new(name, want_bytes(v)).hexdigest(), 1)


def _base64_decode(value: object) -> str | bytes:
    try:
        return binary(base64.b64decode(want_str(value), validate=True))
    except binascii.Error:
        raise EvalError("not valid base64") from None


def _hexstr2bin(value: object) -> str | bytes:
    digits = want_str(value)
    if len(digits) % 2:
        raise EvalError("a hex string has an even number of digits")
    try:
        return binary(bytes.fromhex(digits))
    except ValueError:
        raise EvalError("not a hex string") from None


def _compress(wbits: int) -> Function:
    def call(value: object) -> str | bytes:
        encoder = zlib.compressobj(wbits=wbits)
        return binary(encoder.compress(want_bytes(value)) + encoder.flush())

    return fixed(call, 1)


def _decompress(wbits: int) -> Function:
    def call(value: object) -> str | bytes:
        decoder = zlib.decompressobj(wbits=wbits)
        try:
            out = decoder.decompress(want_bytes(value), _MAX_INFLATED)
        except zlib.error:
            raise EvalError("not valid compressed data") from None
        if decoder.unconsumed_tail:
            raise EvalError(f"decompressed data is larger than {_MAX_INFLATED} bytes")
        return binary(out)

    return fixed(call, 1)


_enc: Callable[[object], str] = lambda v: base64.b64encode(want_bytes(v)).decode()  # noqa: E731

FUNCTIONS: Final[dict[str, Function]] = {
    "md5": _hash("md5"),
    "sha": _hash("sha1"),
    "sha256": _hash("sha256"),
    "base64_encode": fixed(_enc, 1),
    "base64_decode": fixed(_base64_decode, 1),
    "json_encode": fixed(json_encode, 1),
    "json_decode": fixed(json_decode, 1),
    "bin2hexstr": fixed(lambda v: want_bytes(v).hex().upper(), 1),
    "hexstr2bin": fixed(_hexstr2bin, 1),
    "gzip": _compress(31),
    "gunzip": _decompress(31),
    "zip": _compress(-15),
    "unzip": _decompress(-15),
    "zip_compress": _compress(15),
    "zip_uncompress": _decompress(15),
}
