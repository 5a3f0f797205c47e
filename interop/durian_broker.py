"""Run durian's broker (`durian broker`) as a child process.

Used by the pytest fixtures in conftest.py and by throughput.py. Nothing here
depends on pytest.

The contract with the `durian broker` command: started with
`--listen 127.0.0.1:0 --data-dir DIR`, its first line on stdout is
`listening on HOST:PORT`, and SIGTERM shuts it down cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_LISTENING = re.compile(r"^listening on (\S+:\d+)\s*$")


def durian_binary() -> Path:
    """Where the `durian` binary is: $DURIAN_BIN, else target/debug/durian."""
    configured = os.environ.get("DURIAN_BIN")
    if configured:
        return Path(configured)
    target = os.environ.get("CARGO_TARGET_DIR")
    base = Path(target) if target else REPO / "target"
    return base / "debug" / "durian"


class BrokerStartError(RuntimeError):
    """The broker exited or stayed silent instead of announcing its address."""


class DurianBroker:
    """One `durian broker` process on a data directory.

    `start()` launches it and waits for the `listening on` line; `stop()`
    sends SIGTERM (or SIGKILL with `kill=True`) and reaps it. The same object
    can be started again on the same data directory; the port changes, so read
    `bootstrap` after each start.
    """

    def __init__(self, data_dir: Path, binary: Path | None = None,
                 extra_args: list[str] | None = None,
                 start_timeout: float = 30.0) -> None:
        self.data_dir = Path(data_dir)
        self.binary = Path(binary) if binary else durian_binary()
        self.extra_args = list(extra_args or [])
        self.start_timeout = start_timeout
        self.bootstrap: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        # The broker's output is kept (bounded) so a failing test can show it.
        self._output: deque[str] = deque(maxlen=400)
        self._drainers: list[threading.Thread] = []

    # -- lifecycle ------------------------------------------------------

    def start(self) -> str:
        """Start the broker and return its bootstrap address HOST:PORT."""
        if self._proc is not None:
            raise RuntimeError("broker already running")
        if not self.binary.is_file():
            raise BrokerStartError(
                f"durian binary not found at {self.binary}; build it with "
                "`cargo build -p durian-cli --bin durian` or set DURIAN_BIN")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(self.binary), "broker", "--listen", "127.0.0.1:0",
               "--data-dir", str(self.data_dir), *self.extra_args]
        self._output.append(f"$ {' '.join(cmd)}")
        # Plain log lines: they end up in test reports, not on a terminal.
        env = {**os.environ, "NO_COLOR": "1"}
        self._proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, errors="replace", bufsize=1)
        self._drain(self._proc.stderr, "stderr")
        try:
            self.bootstrap = self._await_listening_line()
        except BaseException:
            self.stop(kill=True)
            raise
        self._drain(self._proc.stdout, "stdout")
        return self.bootstrap

    def stop(self, kill: bool = False, timeout: float = 15.0) -> int | None:
        """Stop the broker; return its exit status (None if it was not running).

        A graceful stop that does not finish within `timeout` seconds is
        escalated to SIGKILL, and the timeout is reported as an error after
        the process is reaped, so a hanging shutdown never passes silently.
        """
        proc = self._proc
        if proc is None:
            return None
        self._proc = None
        self.bootstrap = None
        hung = False
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                hung = True
                proc.kill()
                proc.wait(timeout=timeout)
        for thread in self._drainers:
            thread.join(timeout=5)
        self._drainers.clear()
        if hung:
            raise TimeoutError(
                f"broker did not exit within {timeout}s of SIGTERM; killed it.\n"
                + self.output())
        return proc.returncode

    def restart(self, kill: bool = False) -> str:
        """Stop (SIGTERM, or SIGKILL with kill=True) and start on the same data dir."""
        self.stop(kill=kill)
        return self.start()

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        return self._proc.pid if self._proc else None

    def output(self) -> str:
        """The last lines the broker printed (stdout and stderr, interleaved)."""
        return "\n".join(self._output)

    def __enter__(self) -> "DurianBroker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ------------------------------------------------------

    def _await_listening_line(self) -> str:
        """Read stdout's first line, which must announce the bound address."""
        assert self._proc is not None and self._proc.stdout is not None
        result: dict[str, str] = {}

        def read_first_line() -> None:
            result["line"] = self._proc.stdout.readline()  # type: ignore[union-attr]

        # readline() has no timeout of its own, so it runs on a thread.
        reader = threading.Thread(target=read_first_line, daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        line = result.get("line")
        if line is None:
            raise BrokerStartError(
                f"broker printed nothing on stdout within {self.start_timeout}s\n"
                + self.output())
        if not line:
            time.sleep(0.2)  # let stderr catch up for the message below
            raise BrokerStartError(
                f"broker closed stdout without announcing its address (exit "
                f"status {self._proc.poll()})\n" + self.output())
        self._output.append(f"[stdout] {line.rstrip()}")
        match = _LISTENING.match(line.strip())
        if not match:
            time.sleep(0.2)  # let stderr catch up for the message below
            status = self._proc.poll()
            raise BrokerStartError(
                f"expected 'listening on HOST:PORT' as the first stdout line, got "
                f"{line!r} (exit status {status})\n" + self.output())
        return match.group(1)

    def _drain(self, stream, name: str) -> None:
        """Keep reading a pipe so the broker never blocks on a full buffer."""
        def pump() -> None:
            for line in stream:
                self._output.append(f"[{name}] {line.rstrip()}")
        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        self._drainers.append(thread)
