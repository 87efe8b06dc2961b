"""Screenshot a flow run's page in the Prefect UI with headless Chromium: a manual check of what users see.

Not a test: run it against a server that has run a deployment, then look at the PNG.

    .venv/bin/python scripts/screenshot_ui.py --url http://127.0.0.1:4200 --flow-run <id> --out docs/ui-flow-run.png
    .venv/bin/python scripts/screenshot_ui.py ... --tab Parameters    # the flow run page opened on one tab
    .venv/bin/python scripts/screenshot_ui.py --url ... --artifact <key> --out artifact.png   # an artifact's page

The Task Runs and Artifacts tabs can't be preselected: the UI hides them until the run has loaded and then
falls back to Logs. The run graph at the top of the page shows the task runs and the artifacts anyway.

Needs a Chromium (Debian: apt-get install chromium).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

# Offline and reproducible: no first-run UI, no background fetches, no GPU; virtual time lets the
# single-page app load its data before the shot is taken.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1600,1200",
    "--virtual-time-budget=15000",
)


def flow_run_url(base: str, flow_run_id: str, tab: str | None) -> str:
    """The UI route of one flow run, optionally opened on a tab (Logs, Task Runs, Artifacts, ...)."""
    url = f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}"
    return f"{url}?tab={quote(tab)}" if tab else url


def artifact_url(base: str, key: str) -> str:
    """The UI page of the latest artifact with this key (the by-key page renders no body headless)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: f"{base.rstrip('/')}/api"}), get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    if not found:
        raise SystemExit(f"no artifact with key {key!r} on {base}")
    return f"{base.rstrip('/')}/artifacts/artifact/{found[0].id}"


def find_chromium(given: str | None) -> str:
    """The given executable, or the first Chromium on PATH."""
    for name in [given] if given else ["chromium", "chromium-browser", "google-chrome"]:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("no Chromium found: apt-get install chromium, or pass --chromium PATH")


def screenshot(url: str, out: Path, chromium: str, timeout_s: float = 120) -> Path:
    """One headless shot of `url` into `out`, with a throwaway profile so nothing leaks between runs."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="ui-shot-") as profile:
        argv = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}", url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    if not out.is_file():
        raise SystemExit(f"chromium wrote no screenshot (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:4200", help="the Prefect server (UI) base URL")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--flow-run", help="flow run id")
    target.add_argument("--artifact", help="artifact key, e.g. <run>-summary")
    parser.add_argument("--out", type=Path, default=Path("docs/ui-flow-run.png"), help="PNG to write")
    parser.add_argument("--tab", help="open the flow run page on this tab, e.g. Parameters or Details")
    parser.add_argument("--chromium", help="Chromium executable (default: found on PATH)")
    args = parser.parse_args(argv)
    url = artifact_url(args.url, args.artifact) if args.artifact else flow_run_url(args.url, args.flow_run, args.tab)
    out = screenshot(url, args.out, find_chromium(args.chromium))
    print(f"{out} ({out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
