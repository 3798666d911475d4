"""One root exception; each concern raises its own subclass."""


class CrucialHourError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(CrucialHourError):
    """Configuration is invalid. The message names the file, the key and the fix."""

    def __init__(self, file: str, key: str, problem: str, fix: str) -> None:
        self.file, self.key, self.problem, self.fix = file, key, problem, fix
        super().__init__(f"{file}: {key}: {problem} — {fix}")


class RejectedInput(CrucialHourError):
    """An event or profile failed validation; `reasons` name each field path and what is wrong."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


class ConfigErrors(ConfigError):
    """Every problem found in a configuration, not just the first. A ConfigError itself (the first
    problem's file, key, problem and fix), so callers that handle one error handle these too."""

    def __init__(self, errors: list[ConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = errors
        first = errors[0]
        super().__init__(first.file, first.key, first.problem, first.fix)
        self.args = ("\n".join(str(e) for e in errors),)

    def __str__(self) -> str:
        return str(self.args[0])

    def report(self) -> str:
        """One line per problem, for a terminal."""
        count = len(self.errors)
        lines = [f"config error: {e}" for e in self.errors]
        return "\n".join(lines) + (f"\n{count} problems found" if count > 1 else "")

    @staticmethod
    def flatten(errors: list[ConfigError]) -> list[ConfigError]:
        out: list[ConfigError] = []
        for error in errors:
            out.extend(error.errors if isinstance(error, ConfigErrors) else [error])
        return out


class RenderError(CrucialHourError):
    """A template cannot produce a valid message (e.g. an SMS that cannot fit the segment limit)."""
