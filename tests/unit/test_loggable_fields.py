"""alerts/logsafe.py: unknown field names never reach a log verbatim (a newline in a key would forge a line)."""

from __future__ import annotations

from alerts.logsafe import loggable_fields, loggable_path


def test_a_newline_in_an_unknown_field_name_cannot_forge_a_log_line() -> None:
    forged = "child.x\n[2026-12-01 20:00:00] [INFO] crucial.stream: all well"
    assert "\n" not in loggable_path(forged) and "[INFO]" in loggable_path(forged).replace("?", " ")
    assert loggable_path("circumstances.phone_numbers[0]") == "circumstances.phone_numbers[0]"
    assert len(loggable_path("a" * 500)) == 80
    assert loggable_fields(["b: bad", "a\r\nb: worse", "b: again"]) == "a??b, b"
