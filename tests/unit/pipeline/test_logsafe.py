"""The worker's log filter (streams/pipeline/logsafe.py): tracebacks keep frames, never input values."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from alerts.errors import RejectedInput
from alerts.model import DateOfBirth, Notification
from streams.cli.main import plain_logging

SECRET = "Minh Anh Tran 07700 900555"


@pytest.fixture
def logged() -> tuple[logging.Logger, io.StringIO]:
    """A logger configured exactly as the worker configures its root (plain_logging), into a buffer."""
    config = plain_logging("info")
    config["handlers"]["stdout"]["stream"] = "ext://sys.stderr"
    config["root"] = {"level": "INFO", "handlers": []}
    config["loggers"] = {"crucial.test.logsafe": {"level": "INFO", "handlers": ["stdout"], "propagate": False}}
    logging.config.dictConfig(config)
    logger = logging.getLogger("crucial.test.logsafe")
    buffer = io.StringIO()
    logger.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    return logger, buffer


def test_a_validation_error_logs_field_paths_and_frames_not_values(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = logged
    try:
        Notification.model_validate_json(json.dumps({"idempotency_key": SECRET, "kind": SECRET}))
    except Exception:
        logger.exception("handling a record failed")
    text = buffer.getvalue()
    assert "handling a record failed" in text and "test_logsafe.py" in text  # where: kept
    assert "ValidationError" in text and "kind" in text  # what: class and field paths
    assert "Minh" not in text and "900555" not in text and "input_value" not in text


def test_any_exception_message_is_dropped_and_chains_are_kept(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = logged
    try:
        try:
            raise KeyError(SECRET)
        except KeyError as exc:
            raise OverflowError(f"date value out of range for {SECRET}") from exc
    except OverflowError:
        logger.error("grading failed", exc_info=True)
    text = buffer.getvalue()
    assert "KeyError" in text and "OverflowError" in text and "Minh" not in text


def test_exceptions_as_arguments_and_pre_formatted_pydantic_text_are_scrubbed(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = logged
    logger.warning("profile rejected: %s", ValueError(SECRET))
    logger.warning(
        "got: 1 validation error\n  Input should be a valid date [type=date_type, input_value='2010-01-01', input_type=str]"
    )
    text = buffer.getvalue()
    assert "profile rejected: ValueError" in text and "Minh" not in text
    assert "2010-01-01" not in text and "input_value=(hidden)" in text


def test_the_projects_own_errors_keep_their_value_free_messages(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = logged
    born = {"value": "-".join(("2099", "01", "01"))}  # not in the source line a traceback shows
    try:
        DateOfBirth.model_validate(born)
    except Exception as exc:
        logger.error("refused: %s", RejectedInput(["date_of_birth.value: is in the future"]), exc_info=exc)
    text = buffer.getvalue()
    assert "date_of_birth.value: is in the future" in text and "2099" not in text


def test_a_record_that_cannot_be_formatted_does_not_fail_the_caller(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = logged
    logger.warning("two places %s %s", "one")  # a bug in a log call must not become a crash
    assert "could not be shown safely" in buffer.getvalue()
