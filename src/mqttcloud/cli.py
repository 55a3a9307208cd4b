"""`mqttcloud` command line: one subcommand per entry point, each owned by its plane.

    mqttcloud serve [--data-dir DIR] [--host H] [--port P] [--http]   the platform (control plane)
    mqttcloud broker --config FILE | --listen URL ...                  one broker process (data plane)
    mqttcloud apikey create --data-dir DIR --description D [...]       mint a platform/deployment key
    mqttcloud db upgrade [--data-dir DIR]                              apply migrations
    mqttcloud compile [--if-stale]                                     build the compiled broker core

The subcommands import their plane lazily, so `mqttcloud broker` never loads the control plane.
"""

import sys
from collections.abc import Callable, Sequence

USAGE = __doc__ or ""


def _serve(argv: Sequence[str]) -> int:
    from mqttcloud.control.serve import main  # noqa: PLC0415  (lazy: keep planes apart)

    return main(argv)


def _broker(argv: Sequence[str]) -> int:
    from mqttcloud import compiled  # noqa: PLC0415  (before anything imports the core)

    try:
        core = compiled.install()
    except compiled.CoreError as exc:
        print(f"mqttcloud broker: {exc}", file=sys.stderr)
        return 1
    from mqttcloud.runtime.main import main  # noqa: PLC0415  (lazy: keep planes apart)

    return main(argv, core)


def _compile(argv: Sequence[str]) -> int:
    from mqttcloud import compiled  # noqa: PLC0415  (lazy: keep planes apart)

    if argv and argv[0] in {"-h", "--help"}:
        print(compiled.__doc__)
        return 0
    if any(a != "--if-stale" for a in argv):
        print(f"mqttcloud compile: unknown arguments {' '.join(argv)}", file=sys.stderr)
        return 2
    directory = compiled.core_dir()
    if argv and not compiled.check(directory, compiled.package_root())[1]:  # --if-stale, and current
        print(f"mqttcloud compile: {directory} is up to date")
        return 0
    try:
        print(f"mqttcloud compile: {compiled.build(directory)}")
    except compiled.CoreError as exc:
        print(f"mqttcloud compile: {exc}", file=sys.stderr)
        return 1
    return 0


def _apikey(argv: Sequence[str]) -> int:
    from mqttcloud.control.apikey_cli import main  # noqa: PLC0415  (lazy: keep planes apart)

    return main(argv)


def _db(argv: Sequence[str]) -> int:
    from mqttcloud.control.db_cli import main  # noqa: PLC0415  (lazy: keep planes apart)

    return main(argv)


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "serve": _serve,
    "broker": _broker,
    "apikey": _apikey,
    "db": _db,
    "compile": _compile,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"} or args[0] not in COMMANDS:
        print(USAGE, file=sys.stderr if args and args[0] not in {"-h", "--help"} else sys.stdout)
        return 0 if args and args[0] in {"-h", "--help"} else 2
    return COMMANDS[args[0]](args[1:])
