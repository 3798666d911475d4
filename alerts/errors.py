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
