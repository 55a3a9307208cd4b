"""The shell examples of the user guide (`docs/*.md`): which fenced blocks there are and which ones run.

A fence whose info string is `sh`, `bash`, `shell` or `console` is an example the docs test runs; the
same with the word `norun` after it (```` ```sh norun ````) is shown to the reader and never run (installs,
servers in the foreground, commands needing root). Any other info string (`python`, `toml`, `ini`,
`text`...) is not a shell example. Rule: a shell fence carries no other word, so a typo cannot turn an
example into one that silently never runs.
"""

import re
from dataclasses import dataclass
from pathlib import Path

SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console"})
NORUN = "norun"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


class GuideError(ValueError):
    """A page of the guide breaks a rule of this module; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Block:
    page: str  # path relative to the repository, e.g. "docs/platform-api.md"
    line: int  # 1-based line of the opening fence
    runs: bool
    text: str

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.text.splitlines() if line.strip()), "")


def shell_blocks(path: Path, root: Path) -> list[Block]:
    """Every shell block of one Markdown page, in order.

    Raises:
        GuideError: an unclosed fence, or a shell fence with an info word other than `norun`.
    """
    page = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, words = opening["fence"], opening["info"].split()
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index])
            index += 1
        if index == len(lines):
            raise GuideError(f"{page}:{start + 1}: fence {fence} is never closed")
        index += 1
        if not words or words[0] not in SHELL_LANGUAGES:
            continue
        if words[1:] not in ([], [NORUN]):
            raise GuideError(
                f"{page}:{start + 1}: shell fence info {' '.join(words)!r}: only {NORUN!r} may follow"
                f" the language"
            )
        blocks.append(Block(page=page, line=start + 1, runs=words[1:] == [], text="\n".join(body)))
    return blocks


def script(blocks: list[Block]) -> str:
    """One bash script running `blocks` in order, each announced on stderr with its page and line."""
    parts = ["set -euo pipefail"]
    for block in blocks:
        parts.append(f"echo '>>> {block.page}:{block.line}' >&2")
        parts.append(block.text)
    return "\n".join(parts) + "\n"
