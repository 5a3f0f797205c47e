"""Run Apache Kafka's Java client and tools against the broker under test.

Two kinds of JVM programs: Kafka's own command-line tools (main classes in
the kafka-tools jar of .peers/kafka/libs) and the scenarios of
interop/java/ (built by scripts/install-peers.sh into
.peers/java/durian-interop.jar), which print one fact per line for the
tests to check.

Every JVM gets a small heap (the machine is shared) and a timeout; a
program that exits non-zero is reported with its stdout and stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import peer_missing

REPO = Path(__file__).resolve().parent.parent

# Small heaps and a quick-starting JIT: these programs run seconds, not hours.
JVM_OPTIONS = ["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]


def kafka_libs() -> Path:
    """Apache Kafka's jars: $DURIAN_KAFKA_LIBS, else .peers/kafka/libs."""
    configured = os.environ.get("DURIAN_KAFKA_LIBS")
    return Path(configured) if configured else REPO / ".peers" / "kafka" / "libs"


def interop_jar() -> Path:
    """The scenarios' jar: $DURIAN_JAVA_INTEROP_JAR, else .peers/java/durian-interop.jar."""
    configured = os.environ.get("DURIAN_JAVA_INTEROP_JAR")
    return (Path(configured) if configured
            else REPO / ".peers" / "java" / "durian-interop.jar")


def java_binary() -> str | None:
    """$DURIAN_KAFKA_JAVA, else `java` on PATH."""
    return os.environ.get("DURIAN_KAFKA_JAVA") or shutil.which("java")


class Java:
    """Launches JVMs with Kafka's jars (and the scenarios' jar) on the classpath."""

    def __init__(self) -> None:
        java = java_binary()
        if not java:
            peer_missing("a java (17 or newer)")
        libs = kafka_libs()
        if not any(libs.glob("kafka-clients-*.jar")):
            peer_missing(f"Apache Kafka's jars ({libs})")
        jar = interop_jar()
        if not jar.is_file():
            peer_missing(f"the Java interop programs ({jar})")
        self.java = java
        self.classpath = f"{libs}/*:{jar}"

    def run(self, main: str, *args: str, stdin: str | None = None,
            timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run `main` with `args`; fail the test unless it exits 0."""
        cmd = [self.java, *JVM_OPTIONS, "-cp", self.classpath, main, *args]
        try:
            done = subprocess.run(cmd, input=stdin, capture_output=True,
                                  text=True, timeout=timeout,
                                  stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(
                f"{main} {' '.join(args)} did not finish within {timeout}s\n"
                f"stdout: {e.stdout}\nstderr: {e.stderr}") from None
        assert done.returncode == 0, (
            f"{main} {' '.join(args)} exited with {done.returncode}\n"
            f"stdout: {done.stdout[-4000:]}\nstderr: {done.stderr[-4000:]}")
        return done

    def scenario(self, name: str, bootstrap: str, *args: str,
                 timeout: float = 120.0) -> list[list[str]]:
        """Run one interop/java scenario; return its output lines split in words."""
        done = self.run("dev.durian.interop.Main", name, bootstrap, *args,
                        timeout=timeout)
        return [line.split(" ") for line in done.stdout.splitlines() if line]

    def tool(self, main: str, *args: str, stdin: str | None = None,
             timeout: float = 120.0) -> str:
        """Run one of Kafka's tools; return its stdout."""
        return self.run(main, *args, stdin=stdin, timeout=timeout).stdout


def lines_of(output: list[list[str]], word: str) -> list[list[str]]:
    """The lines of a scenario's output that start with `word`, without it."""
    return [line[1:] for line in output if line[0] == word]
