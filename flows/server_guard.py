"""Runs Prefect's temporary server for one CLI process and ends it when that process ends, however it ends.

`python flows/server_guard.py -- COMMAND...`: the CLI holds the write end of this program's stdin and never writes;
when the CLI exits, even by kill -9, the pipe closes, the read here returns, and the server is stopped. Started in
a session of its own, so a terminal's Ctrl-C (sent to the CLI's whole foreground process group) does not reach the
server while the CLI still needs it to record the cancellation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

STOP_GRACE_S = 5.0


def stop(server: subprocess.Popen[bytes]) -> int:
    """Terminate, kill after the grace period, reap; the server's exit code."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            server.kill()
    return server.wait()


def until_eof(fd: int) -> None:
    """Returns when the CLI closed the pipe or died; unbuffered, so no lock is held when this process exits."""
    while os.read(fd, 4096):
        pass


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--":
        print("usage: server_guard.py -- COMMAND...", file=sys.stderr)
        return 2
    server = subprocess.Popen(argv[1:], stdin=subprocess.DEVNULL)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(stop(server)))
    watcher = threading.Thread(target=until_eof, args=(sys.stdin.fileno(),), daemon=True)
    watcher.start()
    while server.poll() is None and watcher.is_alive():  # either side ending ends the other
        watcher.join(timeout=0.2)
    return stop(server)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
