"""Config problems as ConfigErrors naming file, key and fix: pydantic's errors translated, and a
collector that keeps every problem so one run reports them all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from alerts.errors import ConfigError, ConfigErrors
from alerts.intake import field_path

T = TypeVar("T")

# The fix for each pydantic error type; anything else: "correct the value".
FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove it, or correct its spelling",
    "literal_error": "use one of the values listed",
    "enum": "use one of the values listed",
    "string_pattern_mismatch": "correct the value's format",
    "too_short": "give at least one entry",
    "int_parsing": "give a whole number",
    "int_type": "give a whole number",
    "greater_than_equal": "raise the value",
    "less_than_equal": "lower the value",
    "bool_type": "give true or false",
    "list_type": "give a list (- item per line)",
    "dict_type": "give a mapping (key: value)",
    "model_type": "give a mapping (key: value)",
    "string_type": "give text (quote it if YAML reads it as a number or date)",
    "unknown_channel": "use a registered channel's name as the key, or remove it",
}


def schema_errors(path: Path, exc: ValidationError) -> list[ConfigError]:
    """Each of pydantic's errors as a ConfigError with the key's dotted path and a fix."""
    errors: list[ConfigError] = []
    for error in exc.errors(include_url=False):
        problem = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problem = "unknown key"
        fix = FIXES.get(error["type"], "correct the value")
        errors.append(ConfigError(str(path), field_path(tuple(error["loc"]), hide_keys=False), problem, fix))
    return errors


class Problems:
    """Runs each read and check and keeps every ConfigError, so one run reports all the problems."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def every(self, found: Iterable[ConfigError]) -> None:
        """Keep every problem a check yields (and any it raises)."""
        self.run(lambda: self.errors.extend(found))

    def run(self, step: Callable[[], T]) -> T | None:
        """The step's result, or None when it raised a ConfigError (which is kept)."""
        try:
            return step()
        except ConfigError as exc:
            self.errors.extend(ConfigErrors.flatten([exc]))
            return None

    def raise_any(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors)


__all__ = ["FIXES", "ConfigError", "ConfigErrors", "Problems", "schema_errors"]
