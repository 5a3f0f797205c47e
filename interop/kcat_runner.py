"""Drive kcat (librdkafka's command-line client) from the tests.

Every call has a timeout, and a failing kcat is reported with its exit
status and stderr so a broker bug shows up as what the client said.
Set DURIAN_KCAT_DEBUG=broker,protocol to have kcat log those librdkafka
debug contexts to its stderr (shown on failure).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# "%p %o %s\n": partition, offset, payload.
CONSUME_FORMAT = "%p %o %s\\n"


class KcatError(AssertionError):
    """kcat exited with an error or did not finish in time."""


@dataclass
class Record:
    """One consumed message as kcat printed it."""

    partition: int
    offset: int
    value: str


def parse_records(text: str) -> list[Record]:
    """Parse `%p %o %s` lines; a malformed line is an error, not skipped."""
    records = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) != 3:
            raise AssertionError(f"kcat printed an unexpected line: {line!r}")
        records.append(Record(int(parts[0]), int(parts[1]), parts[2]))
    return records


class Kcat:
    """kcat bound to one broker address."""

    def __init__(self, binary: str, bootstrap: str) -> None:
        self.binary = binary
        self.bootstrap = bootstrap

    def command(self, *args: str) -> list[str]:
        """The full kcat command line for `args`."""
        cmd = [self.binary, "-b", self.bootstrap]
        debug = os.environ.get("DURIAN_KCAT_DEBUG")
        if debug:
            cmd += ["-d", debug]
        return cmd + list(args)

    def run(self, *args: str, input_text: str | None = None,
            timeout: float = 120.0) -> str:
        """Run kcat to completion and return its stdout."""
        cmd = self.command(*args)
        try:
            done = subprocess.run(cmd, input=input_text, capture_output=True,
                                  text=True, timeout=timeout,
                                  stdin=None if input_text is not None
                                  else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise KcatError(
                f"{' '.join(cmd)} did not finish within {timeout}s; stderr:\n"
                f"{_tail(exc.stderr)}") from None
        if done.returncode != 0:
            raise KcatError(
                f"{' '.join(cmd)} exited with {done.returncode}; stderr:\n"
                f"{_tail(done.stderr)}")
        return done.stdout

    def metadata(self) -> dict:
        """`kcat -L -J`: the broker's metadata as JSON."""
        return json.loads(self.run("-L", "-J"))

    def produce_lines(self, topic: str, path: Path, *options: str) -> None:
        """Produce every line of `path` as one message (`-P -l`)."""
        self.run("-P", "-t", topic, "-l", *options,
                 "-X", "message.timeout.ms=60000", str(path), timeout=300)

    def consume_all(self, topic: str, *options: str) -> list[Record]:
        """Read the topic from the beginning to its end (`-C -e`)."""
        out = self.run("-C", "-t", topic, "-o", "beginning", "-e", "-q",
                       "-f", CONSUME_FORMAT, *options, timeout=300)
        return parse_records(out)


@dataclass
class GroupMember:
    """A `kcat -G` balanced consumer running in the background."""

    name: str
    proc: subprocess.Popen
    records: list[Record] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    assigned: set[int] = field(default_factory=set)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (kcat then leaves the group), wait, and collect output."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        for thread in self.threads:
            thread.join(timeout=5)
        return self.proc.returncode

    def snapshot(self) -> tuple[int, set[int]]:
        """(records read so far, partitions currently assigned)."""
        with self.lock:
            return len(self.records), set(self.assigned)

    def stderr_text(self) -> str:
        """What kcat said on stderr so far."""
        with self.lock:
            return "\n".join(self.stderr[-80:])


_PARTITION = re.compile(r"\[(\d+)\]")


def start_group_member(kcat: Kcat, group: str, topic: str,
                       name: str) -> GroupMember:
    """Start `kcat -G group topic`, tracking its assignment and records.

    kcat reports each eager rebalance on stderr as
    `% Group G rebalanced (memberid M): assigned: T [0], T [3]` (or
    `revoked: ...`); the member's current assignment is the last such line.
    """
    cmd = kcat.command("-G", group, "-u", "-f", CONSUME_FORMAT,
                       "-X", "auto.offset.reset=earliest", topic)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)
    member = GroupMember(name, proc)

    def read_stdout() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            record = parse_records(line)
            with member.lock:
                member.records.extend(record)

    def read_stderr() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            line = line.rstrip()
            with member.lock:
                member.stderr.append(line)
                if "rebalanced" in line and "assigned:" in line:
                    listed = line.split("assigned:", 1)[1]
                    member.assigned = {int(p) for p in _PARTITION.findall(listed)}
                elif "rebalanced" in line and "revoked:" in line:
                    member.assigned = set()

    for target in (read_stdout, read_stderr):
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        member.threads.append(thread)
    return member


def wait_until(condition, timeout: float, interval: float = 0.1) -> bool:
    """Poll `condition()` until true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _tail(text: str | bytes | None, lines: int = 60) -> str:
    if text is None:
        return "(none)"
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])
