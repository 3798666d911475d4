"""Reading the config directory: every file against its schema, then each file's checks, the ones
across files with whatever other files are valid; every problem found is raised together."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from alerts.channels import CHANNELS
from alerts.config.agencies import Agencies, Agency, check_agencies
from alerts.config.base import PACKAGE_TEMPLATES, AgencyId, Schema
from alerts.config.board import Board
from alerts.config.errors import Problems, schema_errors
from alerts.config.escalation import Escalation, check_escalation
from alerts.config.indicators import Vocabulary, check_indicator_names, check_vocabulary
from alerts.config.providers import Providers, check_providers
from alerts.config.risk import Risk, check_risk
from alerts.config.rota import Rotas, check_rotas
from alerts.config.routing import Routing, check_routing
from alerts.config.settings import Settings, check_settings
from alerts.errors import ConfigError, ConfigErrors

SECRET_KEYS = ("auth_token", "password", "api_key", "secret", "token")


class Config(Schema):
    """Everything the worker and the CLI need, validated together."""

    directory: Path
    settings: Settings
    agencies: dict[AgencyId, Agency]
    routing: Routing
    rota: Rotas = Rotas()
    escalation: Escalation = Escalation()
    providers: Providers = Providers()
    board: Board = Board()
    risk: Risk
    indicators: Vocabulary

    def path(self, relative: Path) -> Path:
        """Resolve a path from the config files against the config directory (as Prometheus does)."""
        return relative if relative.is_absolute() else self.directory / relative

    def templates(self) -> Path:
        """The message and page templates: settings' templates_dir when given, else the package's own."""
        given = self.settings.templates_dir
        return PACKAGE_TEMPLATES if given is None else self.path(given)


FILES: dict[str, type[Schema]] = {
    "settings.yaml": Settings,
    "agencies.yaml": Agencies,
    "routing.yaml": Routing,
    "rota.yaml": Rotas,
    "escalation.yaml": Escalation,
    "providers.yaml": Providers,
    "board.yaml": Board,
    "risk.yaml": Risk,
    "indicators.yaml": Vocabulary,
}


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), "(file)", "file not found", f"create {path.name} (`crucial init DIR` writes a complete starter config)"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}", "fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "(root)", "expected a mapping at the top level", "start the file with key: value lines")
    return data


def refuse_plain_secrets(path: Path, data: Any, prefix: str = "") -> Iterator[ConfigError]:
    if isinstance(data, dict):
        for key, value in data.items():
            dotted = f"{prefix}.{key}" if prefix else str(key)
            if _plain_secret(key, value):
                yield ConfigError(
                    str(path),
                    dotted,
                    "a secret is written in plain config",
                    f"remove it and set it in the environment ({key}_env) or a secret file ({key}_file)",
                )
                continue
            yield from refuse_plain_secrets(path, value, dotted)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from refuse_plain_secrets(path, item, f"{prefix}[{i}]")


def _plain_secret(key: Any, value: Any) -> bool:
    return str(key).lower() in SECRET_KEYS and value not in (None, "")


def _without_secrets(data: Any) -> Any:
    """The data less its plain secrets (each reported already), so the rest is validated too."""
    if isinstance(data, dict):
        return {k: _without_secrets(v) for k, v in data.items() if not _plain_secret(k, v)}
    if isinstance(data, list):
        return [_without_secrets(item) for item in data]
    return data


def read_file(path: Path, schema: type[Schema]) -> Any:
    """One file validated against its schema; ConfigErrors with its plain secrets and every schema error."""
    data = read_yaml(path)
    errors = list(refuse_plain_secrets(path, data))
    try:
        parsed = schema.model_validate(_without_secrets(data) if errors else data)
    except ValidationError as exc:
        errors += schema_errors(path, exc)
    if errors:
        raise ConfigErrors(errors)
    return parsed


class _Files:
    """The files of one directory as read: each its model, or None when it has a problem (reported)."""

    def __init__(self, directory: Path, found: Problems) -> None:
        self.directory = directory
        parsed = {name: found.run(partial(read_file, directory / name, schema)) for name, schema in FILES.items()}
        self.settings: Settings | None = _with_bootstrap(parsed["settings.yaml"])
        agencies: Agencies | None = parsed["agencies.yaml"]
        self.agencies: dict[str, Agency] | None = agencies.agencies if agencies is not None else None
        self.routing: Routing | None = parsed["routing.yaml"]
        self.rota: Rotas | None = parsed["rota.yaml"]
        self.escalation: Escalation | None = parsed["escalation.yaml"]
        self.providers: Providers | None = parsed["providers.yaml"]
        self.board: Board | None = parsed["board.yaml"]
        self.risk: Risk | None = parsed["risk.yaml"]
        self.indicators: Vocabulary | None = parsed["indicators.yaml"]

    def complete(self) -> bool:
        """Every file read and valid against its schema."""
        parts = (self.settings, self.agencies, self.routing, self.rota, self.escalation, self.providers, self.board)
        return all(part is not None for part in (*parts, self.risk, self.indicators))

    def at(self, name: str) -> str:
        return str(self.directory / name)

    def problems(self) -> Iterator[ConfigError]:
        """Each valid file's own checks; a check that also reads another file skips only that part
        when the other file is invalid."""
        rota_ids = self.rota.rotas if self.rota is not None else None
        if self.settings is not None:
            yield from check_settings(self.at("settings.yaml"), self.settings)
        if self.agencies is not None:
            yield from check_agencies(self.at("agencies.yaml"), self.agencies, rota_ids)
        if self.routing is not None:
            yield from check_routing(self.at("routing.yaml"), self.routing, self.agencies)
        if self.rota is not None:
            yield from check_rotas(self.at("rota.yaml"), self.rota)
        if self.escalation is not None:
            yield from check_escalation(self.at("escalation.yaml"), self.escalation, self.agencies)
        if self.providers is not None:
            yield from check_providers(self.at("providers.yaml"), self.providers)
        if self.risk is not None:
            yield from check_risk(self.at("risk.yaml"), self.risk)
        if self.indicators is not None:
            yield from check_vocabulary(self.at("indicators.yaml"), self.indicators)
            yield from check_indicator_names(self.directory, self.indicators, self.routing, self.risk)


def _with_bootstrap(settings: Settings | None) -> Settings | None:
    """$KAFKA_BOOTSTRAP, when set, over settings.yaml's kafka.bootstrap."""
    if settings is None or not (bootstrap := os.environ.get("KAFKA_BOOTSTRAP")):
        return settings
    return settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"bootstrap": bootstrap})})


def load_config(directory: Path | str = "config") -> Config:
    """Read and validate the whole configuration; raise ConfigErrors listing every problem found in
    every file (a check that reads another file runs its part on that file when the file is valid)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(
            str(directory),
            "(directory)",
            "no such config directory",
            "give --config DIR or set CRUCIAL_CONFIG; `crucial init DIR` writes one",
        )
    found = Problems()
    files = _Files(directory, found)
    found.every(files.problems())
    if not files.complete():
        found.raise_any()
    assert files.risk is not None and files.indicators is not None  # every file parsed
    files.risk.grading._vocabulary = files.indicators
    config = Config(
        directory=directory,
        settings=files.settings,
        agencies=files.agencies,
        routing=files.routing,
        rota=files.rota,
        escalation=files.escalation,
        providers=files.providers,
        risk=files.risk,
        board=files.board,
        indicators=files.indicators,
    )
    for channel in CHANNELS:  # the checks across files each channel owns (e.g. contacts naming its subscribers)
        for check in channel.config_checks:
            found.every(check(config))
    found.raise_any()
    return config
