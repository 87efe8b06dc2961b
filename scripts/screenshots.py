"""Screenshots of what a user sees in the Prefect UI, for the README: a Prefect server with its UI, one demo sweep
run against it, then headless Chromium on the flow run page and on each artifact. Run by hand:
`.venv/bin/python scripts/screenshots.py` (needs the chromium Debian package); writes docs/*.png."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
GRID = "model: [lm, ranger]\nseed: [1, 2]\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(api: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise SystemExit("the Prefect server did not answer")


def shoot(chromium: str, url: str, target: Path) -> None:
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1440,1000"]
    argv += ["--virtual-time-budget=20000", f"--screenshot={target}", url]
    subprocess.run(argv, check=True, capture_output=True, timeout=180)
    print(f"wrote {target}")


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("install chromium first (apt-get install chromium)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="rjobs-shots-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(work / "home"), PREFECT_API_URL=f"{base}/api", PREFECT_UI_API_URL=f"{base}/api")
    server = subprocess.Popen(
        [str(REPO / ".venv/bin/prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(f"{base}/api")
        project = work / "project"
        project.mkdir()
        for name in ("job.yml", "environment-job.yml"):
            shutil.copy2(REPO / name, project / name)
        for name in ("r_src", "data", "docker-context"):
            shutil.copytree(REPO / name, project / name)
        (project / "grid.yml").write_text(GRID)
        argv = [sys.executable, "-m", "flows.train", "--job", str(project / "job.yml"), "--results"]
        argv += [str(project / "results"), "--select", "rmse:min", "--no-mlflow", "--run-name", "penguins-demo"]
        subprocess.run(argv, cwd=REPO, env=env, check=True, timeout=600)
        os.environ.update(PREFECT_API_URL=f"{base}/api")
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            [flow_run] = client.read_flow_runs()
            artifacts = {a.key: a for a in client.read_artifacts() if a.key}
        shoot(chromium, f"{base}/runs/flow-run/{flow_run.id}", DOCS / "ui-flow-run.png")
        for kind in ("table", "summary", "progress"):
            artifact = artifacts[f"penguins-demo-{kind}"]
            shoot(chromium, f"{base}/artifacts/artifact/{artifact.id}", DOCS / f"ui-artifact-{kind}.png")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
