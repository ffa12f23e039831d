"""The one exception type of the config system."""

from __future__ import annotations


class ConfigError(ValueError):
    """A problem with a config: the message is the whole report (file, key path, what is wrong).

    The CLI prints ``str(err)`` only, so the message must stand on its own; no deep traceback is
    needed. ``problems`` holds the individual lines when several problems were collected
    (``validate``); it is empty for a single-problem error.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems: list[str] = list(problems or [])
