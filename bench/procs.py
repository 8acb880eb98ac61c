"""The processes under test: start, wait for, measure (CPU time, memory), stop.

CPU time and memory are read from ``/proc`` for a process and all its
descendants (LiteLLM may fork workers): ``utime + stime`` from
``/proc/<pid>/stat``, ``VmHWM`` (peak RSS) and ``VmRSS`` from ``/proc/<pid>/status``.

>>> # service = Service("bare", subprocess.Popen([...]), "http://127.0.0.1:PORT")
>>> # before = service.cpu_seconds(); ...; used = service.cpu_seconds() - before
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 120.0
) -> None:
    """Return once something accepts on ``port``; raise if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"process exited with {proc.returncode} before listening:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s} s (see {log})")


def raise_nofile() -> None:
    """Raise this process's open-file limit to its hard limit (thousands of sockets);
    a ``preexec_fn`` for the servers a benchmark starts."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def open_fds(pid: int) -> int:
    """File descriptors open in ``pid`` and its descendants."""
    total = 0
    for p in process_tree(pid):
        try:
            total += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            continue
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant alive now."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += _children(current)
    return out


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / _TICKS


def status_kb(pid: int, name: str) -> int:
    """Sum of a ``/proc/<pid>/status`` field (kB) over the process tree."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(name + ":"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


@dataclass
class Service:
    """A started server: its name, process and base URL."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    stream_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def peak_rss_kb(self) -> int:
        return status_kb(self.pid, "VmHWM")

    def rss_kb(self) -> int:
        return status_kb(self.pid, "VmRSS")

    def open_fds(self) -> int:
        return open_fds(self.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
