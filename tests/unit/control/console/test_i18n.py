"""Every message the console shows has its zh-CN text."""

import ast
import re
from pathlib import Path

from mqttcloud.control.console import (
    access_pages,
    audit_pages,
    connect_guide,
    connector_reasons,
    deployment_pages,
    i18n,
    i18n_access,
    i18n_live,
    i18n_platform,
    pages,
    routes,
)
from mqttcloud.control.console.pages import DEPLOYMENT_TABS, TEMPLATES_DIR
from mqttcloud.control.deployment_api.keys.service import GROUPS
from mqttcloud.control.deployments.schemas import Endpoints

CONSOLE_DIR = Path(i18n.__file__).parent
_TEMPLATE_CALL = re.compile(r"""_\((?P<q>["'])(?P<msg>(?:(?!(?P=q)).)+)(?P=q)\)""")


def template_messages() -> set[str]:
    found: set[str] = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        found.update(m.group("msg") for m in _TEMPLATE_CALL.finditer(template.read_text()))
    return found


def code_messages() -> set[str]:
    """String literals passed to `page.t(...)` / `PageError(status, "...")` in the console's modules."""
    found: set[str] = set()
    for module in CONSOLE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = node.args[1:] if name == "PageError" else node.args if name == "t" else []
            found.update(a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return found


def label_messages() -> set[str]:
    labels = {
        *routes.SCOPE_LABELS.values(),
        *pages.ROLE_LABELS.values(),
        *deployment_pages.TYPE_LABELS.values(),
    }
    labels.update(role.value for role in pages.ROLE_LABELS)
    labels.update(connector_reasons.messages())
    labels.update([*audit_pages.INTERFACE_LABELS.values(), *audit_pages.ACTOR_KIND_LABELS.values()])
    labels.update(plan for plan in deployment_pages.PLANS)
    labels.update(label for _name, label, _path in DEPLOYMENT_TABS)
    labels.update(a.label for a in deployment_pages.addresses(Endpoints()))
    for endpoints in (Endpoints(mqtt="h:1"), Endpoints(mqtts="h:2")):
        guide = connect_guide.guide(endpoints, ca_file="ca.crt", platform_host="127.0.0.1")
        assert guide is not None
        labels.update(snippet.title for snippet in guide.snippets)
    labels.update(["pending", "starting", "running", "stopping", "stopped", "failed"])  # deployment states
    labels.update(["publish", "subscribe", "all", "allow", "deny"])  # ACL actions and permissions
    labels.update([*access_pages.BAN_KINDS, *access_pages.BAN_KIND_NAMES.values(), "imported", *GROUPS])
    return labels


def test_messages_are_found() -> None:
    assert "Deployments" in template_messages()
    assert "Wrong user name or password." in code_messages()


def test_every_message_has_a_chinese_translation() -> None:
    missing = sorted((template_messages() | code_messages() | label_messages()) - i18n.ZH_CN.keys())
    assert missing == []


def test_placeholders_survive_translation() -> None:
    for message, translated in i18n.ZH_CN.items():
        assert re.findall(r"%[sd]", message) == re.findall(r"%[sd]", translated), message


def test_unknown_language_falls_back_to_english() -> None:
    assert i18n.translate("fr", "Deployments") == "Deployments"
    assert i18n.translate("zh-CN", "Deployments") == "部署"


def test_each_message_id_belongs_to_one_area() -> None:
    areas = [i18n_platform.PLATFORM_ZH, i18n_access.ACCESS_ZH, i18n_live.LIVE_ZH]
    assert sum(len(area) for area in areas) == len(i18n.ZH_CN)
