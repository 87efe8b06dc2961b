"""Start and stop a throwaway Azurite blob emulator; shared by the blob tests and the upload bench."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
INSTALL_HINT = "run `npm ci --no-audit --no-fund` at the repo root to install Azurite"

# Azurite's documented development account: public by design, never a real secret.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    """A running azurite-blob process and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT_NAME}"

    def connection_string(self, account_key: str = ACCOUNT_KEY) -> str:
        """Connection string for the dev account; a different key makes a wrong-credential one."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};"
            f"AccountKey={account_key};BlobEndpoint={self.blob_endpoint};"
        )


def free_port() -> int:
    """A port the OS just handed out, so parallel runs don't collide on 10000."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_azurite(workdir: Path, timeout: float = 30.0, attempts: int = 3) -> Azurite:
    """Start azurite-blob in memory on a free port and wait until it accepts connections."""
    if not AZURITE_BIN.exists():
        raise FileNotFoundError(f"{AZURITE_BIN} is missing: {INSTALL_HINT}")
    workdir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for attempt in range(attempts):
        port = free_port()
        log_path = workdir / f"azurite-{port}.log"
        argv = [
            str(AZURITE_BIN),
            "--blobHost", "127.0.0.1",
            "--blobPort", str(port),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _port_answers(port):
                return Azurite(process=process, port=port, log_path=log_path)
            time.sleep(0.1)
        stop_azurite(Azurite(process=process, port=port, log_path=log_path))
        last_error = f"attempt {attempt + 1}: port {port}: " + log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"azurite-blob did not start: {last_error}")


def stop_azurite(azurite: Azurite) -> None:
    """Terminate the emulator, killing it if it ignores SIGTERM."""
    if azurite.process.poll() is not None:
        return
    azurite.process.terminate()
    try:
        azurite.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        azurite.process.kill()
        azurite.process.wait(timeout=10)


@contextmanager
def running_azurite(workdir: Path) -> Iterator[Azurite]:
    """Azurite for the duration of a with-block."""
    azurite = start_azurite(workdir)
    try:
        yield azurite
    finally:
        stop_azurite(azurite)


def in_ci() -> bool:
    """CI sets CI=true; there a missing Azurite is a failure, not a skip."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false")
