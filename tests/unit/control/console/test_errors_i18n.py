# ruff: noqa: RUF001  (the expected Chinese texts use full-width punctuation)
"""Every service error of the control plane has its zh-CN text, found by walking the sources."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttcloud.control.console import errors_i18n, i18n

SRC = Path(errors_i18n.__file__).parents[3]
CONTROL = SRC / "mqttcloud" / "control"
# Messages the broker answers with that the platform passes on as its own (`deployment_api.live.api_error`).
BROKER_MESSAGES = [SRC / "mqttcloud" / "protocol" / "topics.py", SRC / "mqttcloud" / "runtime" / "admin.py"]
# Where the message is among a constructor's positional arguments when it is not the first.
MESSAGE_ARG = {"CertificateRejected": 1, "AdminError": 1, "require_room": 3}
CONSOLE_ERRORS = {"ImportFileError"}  # the console's own errors shown next to a field


def _trees(paths: list[Path]) -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text()) for path in paths}


def _subclasses(trees: dict[Path, ast.Module], root: str) -> set[str]:
    found = {root}
    grown = True
    while grown:
        grown = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in found:
                    bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                    if bases & found:
                        found.add(node.name)
                        grown = True
    return found


def _template(node: ast.expr) -> str | None:
    """The message template of a literal or f-string: each interpolated value becomes `%s`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "%s" for v in node.values)
    return None


def _assigned(scopes: list[ast.AST], name: str) -> list[str]:
    """The templates a name is given in the innermost scope that assigns it (`x = ...`, then `x += ...`)."""
    for scope in scopes:
        found: list[str] = []
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets
            ):
                found.extend(t for t in [_template(node.value)] if t is not None)
            elif (
                isinstance(node, ast.AugAssign)
                and isinstance(node.target, ast.Name)
                and node.target.id == name
            ):
                tail = _template(node.value)
                found.extend([f + tail for f in found] if tail is not None else [])
        if found:
            return found
    return []


def _calls(tree: ast.Module) -> Iterator[tuple[ast.Call, list[ast.AST]]]:
    """Every call with the scopes around it, innermost first."""

    def visit(node: ast.AST, scopes: list[ast.AST]) -> Iterator[tuple[ast.Call, list[ast.AST]]]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            scopes = [node, *scopes]
        if isinstance(node, ast.Call):
            yield node, scopes
        for child in ast.iter_child_nodes(node):
            yield from visit(child, scopes)

    yield from visit(tree, [tree])


def raised_templates(trees: dict[Path, ast.Module], names: set[str]) -> dict[str, str]:
    """Message template → where it is raised, for every call of a class (or function) in `names`.

    A message that is a name resolves to what the enclosing function or module assigns it; a message that
    is another error's `.message` passes that one on. Anything else is a failure: its text is unknown.
    """
    found: dict[str, str] = {}
    for path, tree in trees.items():
        for call, scopes in _calls(tree):
            func = call.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name not in names:
                continue
            index = MESSAGE_ARG.get(name, 0)
            where = f"{path.relative_to(SRC)}:{call.lineno}"
            if len(call.args) <= index:
                continue  # a class statement's own super().__init__ forwarding, checked at its callers
            arg = call.args[index]
            template = _template(arg)
            if template is not None:
                found.setdefault(template, where)
            elif isinstance(arg, ast.Name):
                templates = _assigned(scopes, arg.id)
                if not templates and name in {"ApiError", "AdminError"} | CONSOLE_ERRORS:
                    continue  # a base class forwarding its argument (`super().__init__(message)`)
                assert templates, f"{where}: cannot tell the message of {ast.unparse(call)}"
                for each in templates:
                    found.setdefault(each, where)
            elif isinstance(arg, ast.Attribute) and arg.attr == "message":
                continue  # another ApiError's message, passed on
            elif name == "AdminError" and isinstance(arg, ast.Call) and ast.unparse(arg) == "str(exc)":
                continue  # the ProtocolError's / ValueError's own message, checked where it is raised
            else:
                pytest.fail(f"{where}: the message of {ast.unparse(call)} is not a literal or f-string")
    return found


def service_templates() -> dict[str, str]:
    control = _trees(sorted(CONTROL.rglob("*.py")))
    names = _subclasses(control, "ApiError") | CONSOLE_ERRORS | {"require_room"}
    found = raised_templates(control, names)
    found.update(raised_templates(_trees(BROKER_MESSAGES), {"ProtocolError", "AdminError"}))
    return found


def _translated(template: str) -> bool:
    return any(
        template in table for table in (errors_i18n.SERVICE_ERRORS_ZH, errors_i18n.WORDS_ZH, i18n.ZH_CN)
    )


def test_the_walk_finds_the_services_errors() -> None:
    templates = service_templates()
    assert "User already exists" in templates  # a literal
    assert "Deployment %s not found" in templates  # an f-string
    assert "Invalid API key or secret" in templates  # a module constant
    assert "the private key does not belong to the first certificate, %s" in templates  # a local
    assert "wildcard in topic name" in templates  # the broker's, passed on
    assert "authentication entries" in templates  # a quota's noun
    assert len(templates) > 150


def test_every_service_error_has_a_chinese_translation() -> None:
    missing = sorted(
        f"{template!r}  ({where})"
        for template, where in service_templates().items()
        if not _translated(template)
    )
    assert missing == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("User already exists", "用户已存在"),
        ("Deployment d1234abc not found", "部署 d1234abc 不存在"),
        (
            "Deployment d1 is running; only a stopped deployment can be started",
            "部署 d1 当前为运行中；只有已停止的部署可以启动",
        ),
        (
            "topic a/+b is not a valid topic filter: misplaced '+' in topic filter",
            "主题 a/+b 不是有效的主题过滤器：主题过滤器中 '+' 的位置不正确",
        ),
        (
            "quota exceeded: at most 4 authentication entries per deployment",
            "超出配额：每个部署最多 4 个认证条目",
        ),
        ("API key has no POST permission on clients", "API Key 没有 clients 的 POST 权限"),
        ("cert: String should have at least 1 character", "cert：至少需要 1 个字符"),
        ("cert: Field required; key: Field required", "cert：必填；key：必填"),
        (
            "certificate rejected [key-mismatch]: "
            "the private key does not belong to the first certificate, CN=a",
            "证书被拒绝 [key-mismatch]：私钥与第一个证书 CN=a 不匹配",
        ),
        ("wildcard in topic name", "主题名中不能包含通配符"),
    ],
)
def test_messages_are_translated_with_their_values(message: str, expected: str) -> None:
    assert i18n.translate("zh-CN", message) == expected
    assert i18n.translate("en", message) == message


def test_an_unknown_message_stays_as_it_is() -> None:
    assert errors_i18n.translate_error("the moon is made of cheese") is None
    assert i18n.translate("zh-CN", "the moon is made of cheese") == "the moon is made of cheese"
    assert i18n.translate("zh-CN", "用户已存在") == "用户已存在"  # translating twice changes nothing


def test_every_template_matches_its_own_instance() -> None:
    """A template filled with sample values translates to its Chinese text with those values."""
    for english in errors_i18n.SERVICE_ERRORS_ZH:
        parts = english.split("%s")
        values = [f"<{n}>" for n in range(len(parts) - 1)]
        instance = "".join(part + value for part, value in zip(parts, [*values, ""], strict=True))
        translated = errors_i18n.translate_error(instance)
        assert translated is not None, english
        assert translated != instance, english
        assert "%" not in translated.replace("%s", ""), (english, translated)  # every %N was filled
        assert sorted(re.findall(r"<\d>", translated)) == values, (english, translated)
