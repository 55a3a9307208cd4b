"""Console translations: English (the message ids themselves) and Simplified Chinese (zh-CN).

Templates write `{{ _("Deployments") }}` and routes `page.t("...")`; a message without a translation falls
back to English. The zh-CN texts live by area (`i18n_platform`, `i18n_access`, `i18n_live`) and are
merged here into `ZH_CN`; a message id belongs to one area only. A unit test checks that every message
used by a template, a route or a label table has its zh-CN text. Service error messages (from the APIs'
services) are translated by `errors_i18n`.
"""

from mqttcloud.control.console import errors_i18n
from mqttcloud.control.console.i18n_access import ACCESS_ZH
from mqttcloud.control.console.i18n_live import LIVE_ZH
from mqttcloud.control.console.i18n_platform import PLATFORM_ZH

LANGUAGES = ("en", "zh-CN")
LANGUAGE_NAMES = {"en": "English", "zh-CN": "简体中文"}

ZH_CN: dict[str, str] = {**PLATFORM_ZH, **ACCESS_ZH, **LIVE_ZH}


def translate(lang: str, message: str) -> str:
    """`message` in `lang`: the console's own table, then the services' error messages, else as given."""
    if lang == "zh-CN":
        return errors_i18n.translate_error(message, ZH_CN) or message
    return message
