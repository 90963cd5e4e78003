"""The exception types routerha raises on purpose.

Everything the package raises for bad input derives from RouterhaError, so callers
(the daemon loop, the CLI, the Ansible modules) can tell "the input was wrong" from
"the program is wrong".
"""

from __future__ import annotations


class RouterhaError(Exception):
    """Base class of every error routerha raises for bad input."""


class ConfigError(RouterhaError):
    """A configuration is invalid. Carries every problem found, each with its key path."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{path}: {why}" for path, why in self.problems))
