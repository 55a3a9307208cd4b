"""The `{name:anypath}` path parameter of the Deployment API: any characters, slashes and newlines too.

Starlette's `{name:path}` is `.*`, which stops at a newline, so a topic, client id or user name holding
one (MQTT allows it) would fall through every route, past the v4 and v5 catch-alls, to a 404 in the wrong
error shape. Importing this module registers the convertor; routes name it through `ANY_PATH`.
"""

from starlette.convertors import Convertor, register_url_convertor

ANY_PATH = "anypath"


class AnyPathConvertor(Convertor[str]):
    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor(ANY_PATH, AnyPathConvertor())
