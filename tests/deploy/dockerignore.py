"""Docker's .dockerignore semantics, to tell which files reach the build context.

As in moby's patternmatcher: patterns are cleaned paths relative to the context, ``*`` and ``?``
stop at ``/``, ``**`` spans directories, a pattern that matches a parent directory matches
everything under it, ``!`` re-includes, and the last matching pattern decides.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rule:
    regex: re.Pattern[str]
    include: bool


def _to_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def rules(path: Path) -> list[Rule]:
    parsed = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = posixpath.normpath(line.lstrip("!").strip()).lstrip("/")
        parsed.append(Rule(_to_regex(pattern), include))
    return parsed


def is_excluded(relative: str, ignore_rules: list[Rule]) -> bool:
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for rule in ignore_rules:
        if any(rule.regex.fullmatch(c) for c in candidates):
            excluded = not rule.include
    return excluded
