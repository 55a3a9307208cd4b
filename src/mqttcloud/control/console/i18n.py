"""Console translations: English (the message ids themselves) and Simplified Chinese (zh-CN).

Templates write `{{ _("Deployments") }}`; a message without a translation falls back to English, and a
unit test checks that every message used by a template or route has its zh-CN text.
"""

LANGUAGES = ("en", "zh-CN")
LANGUAGE_NAMES = {"en": "English", "zh-CN": "简体中文"}

ZH_CN: dict[str, str] = {}


def translate(lang: str, message: str) -> str:
    if lang == "zh-CN":
        return ZH_CN.get(message, message)
    return message
