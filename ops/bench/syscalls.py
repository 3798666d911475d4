"""Socket calls of a worker during a run, counted by `strace -f -c` (`latency --strace`).

A count does not move with the machine's load the way CPU time does, so it compares code before
and after a change on a busy machine: sends per notification are the Kafka requests, SMTP
commands and HTTP requests a notification costs. strace stops the worker at every call it
traces: the latencies of a run with --strace mean nothing.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path

TRACED = "sendto,sendmsg,write,writev,recvfrom,recvmsg,epoll_wait"


def available() -> bool:
    return shutil.which("strace") is not None


def start(pid: int, out: Path) -> subprocess.Popen[bytes]:
    argv = ["strace", "-f", "-c", "-e", f"trace={TRACED}", "-o", str(out), "-p", str(pid)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes], out: Path) -> dict[str, int]:
    """Detach (strace writes its table then) and return calls per system call."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    return parse(out.read_text() if out.exists() else "")


def parse(table: str) -> dict[str, int]:
    """strace -c's table: `% time  seconds  usecs/call  calls  [errors]  syscall` rows."""
    calls: dict[str, int] = {}
    for line in table.splitlines():
        row = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$", line)
        if row and row.group(2) != "total":
            calls[row.group(2)] = int(row.group(1))
    return calls
