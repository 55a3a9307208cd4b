"""No import cycles among `mqttcloud` modules: imports go one way (STYLE.md §1), domains below APIs (§5).

The graph is read from the source with `ast`, never by importing it. Every `import` or `from ... import` of
a `mqttcloud` module is an edge, at module level or inside a function (a late import that dodges a cycle
still closes one); an import under `if TYPE_CHECKING:` is not. Importing `a.b.c` also runs
`a/b/__init__.py`, so the edge goes to each package on the way that the importer is not itself inside: a
package `__init__` that imports its routers closes a cycle for every module that imports a sibling of them.
The same graph shows which modules load an HTTP presenter: in the control plane, only the app factory does.
"""

import ast
import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import mqttcloud

ROOT = Path(mqttcloud.__file__).parent
CONTROL = "mqttcloud.control"
# HTTP presenters of the control plane, by module name: thin layers over the domains' services (STYLE.md §5)
PRESENTER_NAMES = {"routes", "v4", "v5", "api", "mount", "fast_path"}
CONSOLE = f"{CONTROL}.console"
ASSEMBLERS = {f"{CONTROL}.app", f"{CONTROL}.serve"}  # the app factory and `serve`, which runs it

# Cycles outside the control plane tolerated until their owner breaks them; a new one fails the test.
ALLOWED_CYCLES: list[frozenset[str]] = []


@dataclass(frozen=True, slots=True)
class Source:
    """One module's text; a package's is its `__init__.py`."""

    text: str
    is_package: bool


def read_sources(root: Path) -> dict[str, Source]:
    """Every module under `root` (the `mqttcloud` package directory), by dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = Source(path.read_text(), is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterable[ast.Import | ast.ImportFrom]:
    """Import statements anywhere in `tree` (functions too), except the body of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for node in child.orelse:
                yield from _import_nodes(ast.Module(body=[node], type_ignores=[]))
        else:
            yield from _import_nodes(child)


def _named(module: str, source: Source, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names `node` imports: for `from a import b`, `a` and `a.b` (the caller keeps modules)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if source.is_package else module.split(".")[:-1]
        base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def imported(module: str, source: Source, known: Collection[str]) -> set[str]:
    """The modules of `known` that running `module` imports, with the packages each import runs first."""
    own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(source.text, module)):
        for name in _named(module, source, node):
            parts = name.split(".")
            prefixes = (".".join(parts[:i]) for i in range(1, len(parts) + 1))
            targets.update(p for p in prefixes if p in known and p not in own)
    return targets


def import_graph(sources: Mapping[str, Source]) -> dict[str, set[str]]:
    return {module: imported(module, source, sources) for module, source in sources.items()}


@functools.cache
def source_graph() -> Mapping[str, Collection[str]]:
    """The import graph of the `mqttcloud` source tree, read once per test run."""
    return import_graph(read_sources(ROOT))


def reachable(graph: Mapping[str, Collection[str]], start: str) -> set[str]:
    """Every module that importing `start` imports, directly or not."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return seen


def cycles(graph: Mapping[str, Collection[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module: each is one or more import cycles."""
    reach = {start: reachable(graph, start) for start in graph}
    found = {frozenset({m, *(o for o in reach[m] if m in reach.get(o, ()))}) for m in graph if m in reach[m]}
    return sorted(found, key=sorted)


def shortest_cycle(graph: Mapping[str, Collection[str]], component: frozenset[str]) -> list[str]:
    """One cycle through the component's first module, as a path that ends where it starts."""
    start = min(component)
    paths = {start: [start]}
    todo = [start]
    while todo:
        module = todo.pop(0)
        for nxt in sorted(graph[module]):
            if nxt == start:
                return [*paths[module], start]
            if nxt in component and nxt not in paths:
                paths[nxt] = [*paths[module], nxt]
                todo.append(nxt)
    raise AssertionError(component)


def is_presenter(module: str) -> bool:
    name = module.rsplit(".", 1)[-1]
    return name in PRESENTER_NAMES or module == CONSOLE or module.startswith(CONSOLE + ".")


def _describe(graph: Mapping[str, Collection[str]], found: Iterable[frozenset[str]]) -> list[str]:
    return [" -> ".join(shortest_cycle(graph, component)) for component in found]


def test_control_plane_modules_form_no_import_cycle() -> None:
    graph = source_graph()
    found = [c for c in cycles(graph) if any(m == CONTROL or m.startswith(CONTROL + ".") for m in c)]
    assert _describe(graph, found) == []


def test_no_import_cycle_besides_the_allowed_ones() -> None:
    graph = source_graph()
    found = [c for c in cycles(graph) if not any(c <= allowed for allowed in ALLOWED_CYCLES)]
    assert _describe(graph, found) == []


def test_control_plane_domains_load_no_presenter() -> None:
    """A domain module (model, store, service, lifecycle...) loads no API or console module, even through
    a package `__init__` on the way: only the app factory and its entry point assemble presenters."""
    graph = source_graph()
    wrong = {
        module: sorted(filter(is_presenter, reachable(graph, module)))
        for module in sorted(graph)
        if module.startswith(CONTROL + ".") and module not in ASSEMBLERS and not is_presenter(module)
    }
    assert {module: presenters for module, presenters in wrong.items() if presenters} == {}


def _graph(**modules: str) -> dict[str, set[str]]:
    """The graph of made-up modules: `p__a=` is module `p.a`'s text, `p__init=` package `p`'s."""
    sources = {}
    for name, text in modules.items():
        dotted = name.replace("__", ".").removesuffix(".init")
        sources[dotted] = Source(text, name.endswith("__init"))
    return import_graph(sources)


def test_an_import_inside_a_function_closes_a_cycle() -> None:
    graph = _graph(
        p__init="",
        p__a="from p import b\n",
        p__b="def f() -> None:\n    from p.a import x\n",
    )
    assert _describe(graph, cycles(graph)) == ["p.a -> p.b -> p.a"]


def test_an_import_under_type_checking_does_not() -> None:
    graph = _graph(
        p__init="",
        p__a="from p import b\n",
        p__b="import typing\nif typing.TYPE_CHECKING:\n    from p.a import X\nelse:\n    import p.c\n",
        p__c="",
    )
    assert graph["p.b"] == {"p.c"}
    assert cycles(graph) == []


def test_a_package_init_on_the_way_closes_a_cycle() -> None:
    """`d.lifecycle` imports `api.access`, which runs `api/__init__.py`, which imports `api.routes`."""
    graph = _graph(
        d__init="",
        d__lifecycle="from api import access\n",
        api__init="from api.routes import router\n",
        api__access="",
        api__routes="from d.lifecycle import Runtime\n",
    )
    assert _describe(graph, cycles(graph)) == ["api -> api.routes -> d.lifecycle -> api"]


def test_a_package_is_not_on_the_way_for_its_own_modules() -> None:
    graph = _graph(
        p__init="from p.a import A\n",
        p__a="from p.b import B\n",
        p__b="from .c import C\n",
        p__c="",
    )
    assert graph == {"p": {"p.a"}, "p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": set()}
    assert cycles(graph) == []
