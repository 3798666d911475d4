"""Where a worker's CPU goes: py-spy records a worker during a harness run, this summarises it.

    .venv/bin/pip install py-spy      # a profiling tool, not a dependency of the project
    .venv/bin/python -m ops.bench.pipeline latency --profiles 10000 --rate 100 --seconds 30 --matched 0.1 \\
        --no-peer --no-floor --py-spy /tmp/worker.collapsed
    .venv/bin/python -m ops.bench.pyspy_summary /tmp/worker.collapsed

The recording is py-spy's raw (collapsed) format, 50 samples a second of worker 0, non-blocking.
The summary: a share of samples per part of the pipeline (each sample counted once, in the first
part of the list below whose pattern one of its frames matches), then the functions with the most
inclusive and self time. Shares are of the samples py-spy took, which include time the worker was
runnable but waiting for a CPU on a busy machine.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

PARTS = [
    ("SMTP client (aiosmtplib, MIME, TLS writes)", r"SmtpEmailSender"),
    ("Twilio client (aiohttp POST)", r"TwilioSmsSender"),
    ("status webhook (aiohttp server)", r"RequestHandler\._handle_request|RequestHandler\.data_received|web_protocol"),
    ("triage: matching", r"ProfileIndex\.match"),
    ("triage: rendering", r"Renderer\.|jinja2|rendering\.py"),
    ("triage: parse, grade, route, produce its records", r"IncidentOwner\.(report|command)|on_report|triage \(alerts"),
    (
        "Kafka produce (faust + aiokafka sender, table changelogs)",
        r"SendProduceReqHandler|Sender\._send_produce_req|_sender_routine|MessageAccumulator|Producer\.send|"
        r"publish_message|_send_now|TopicOutputs\.emit|Topic\.send|Table\.__setitem__|on_key_set|send_soon",
    ),
    (
        "Kafka fetch and the agents' streams (consumer, followers)",
        r"Fetcher|fetcher\.py|Follower|follow\.py|getmany|Consumer\._drain|_c_aiter|Stream\.|Conductor|on_message",
    ),
    ("deliver bookkeeping (ledger, delivery records)", r"Ledger\.|Deliverer\.|on_notification|on_status"),
    ("idle poll (epoll)", r"EpollSelector\.select"),
]
OTHER = "other (asyncio loop, faust/mode machinery, timers, metrics)"
PYDANTIC = r"pydantic"


def record(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """Start py-spy on `pid` for `seconds` (the caller waits for it)."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    argv = [exe, "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", "50", "--nonblocking"]
    return subprocess.Popen([*argv, "--format", "raw", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def samples(path: Path) -> Iterator[tuple[list[str], int]]:
    """(frames, count) per line of a collapsed recording; frames as 'function (module path)'."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")], int(count)


def part_of(stack: str) -> str:
    for name, pattern in PARTS:
        if re.search(pattern, stack):
            return name
    return OTHER


def summarise(path: Path) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    """(samples, per part, inclusive per function, self per function); pydantic counted apart."""
    total, parts, inclusive, own = 0, Counter[str](), Counter[str](), Counter[str]()
    for frames, count in samples(path):
        total += count
        stack = ";".join(frames)
        parts[part_of(stack)] += count
        if re.search(PYDANTIC, stack):
            parts["(across all parts: pydantic validation and serialisation)"] += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    return total, parts, inclusive, own


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.pyspy_summary", description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path, help="py-spy's raw (collapsed) output")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    total, parts, inclusive, own = summarise(args.recording)
    if not total:
        print(f"{args.recording}: no samples", file=sys.stderr)
        return 1
    print(f"{total} samples\n\n| part | share of samples |\n|---|---|")
    for name, count in parts.most_common():
        print(f"| {name} | {100 * count / total:.1f} % |")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\n| function ({title}) | share |\n|---|---|")
        for name, count in counter.most_common(args.top):
            print(f"| `{name}` | {100 * count / total:.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
