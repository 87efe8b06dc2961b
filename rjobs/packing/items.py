"""A packed job's folder as the runner (runner.sh) reads and writes it: written once here, read while it runs.

The layout is the runner's contract (see its header): code/, items.txt, items/<id>/cmd.sh in; items/<id>/work/,
std_log.txt and status out, and progress.log appended. Kept in one module so the writer and the reader agree.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rjobs.core.files import LOG_FILE, OUTPUTS_DIR, atomic_write_text
from rjobs.core.snapshot import CodeSnapshot, copy_snapshot

RUNNER = Path(__file__).with_name("runner.sh")
ITEMS_FILE = "items.txt"
PROGRESS_FILE = "progress.log"
ITEMS_DIR = "items"
STATUS_FILE = "status"
COMMAND_FILE = "cmd.sh"
WORK_DIR = "work"
ITEM_ID = re.compile(r"^[A-Za-z0-9_-]+$")
INPUT_VARIABLE = "RJOBS_INPUT_"
"""Where a remote job's mounted data inputs reach an item: the job's command sets RJOBS_INPUT_<name> to the path."""
INPUT_REFERENCE = re.compile(r"\$\{" + INPUT_VARIABLE + r"([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class PackItem:
    """One work item of a pack: its attempts (numbered as its own jobs would be) and its argv."""

    item_id: str
    first_attempt: int
    last_attempt: int
    argv: Sequence[str]
    files: Mapping[str, Path] = field(default_factory=dict)
    """Local files the item reads, copied into its folder under these relative names (a remote pack ships them)."""


@dataclass(frozen=True)
class ItemStatus:
    """The runner's status file after an item's latest attempt."""

    exit_code: int
    seconds: float
    attempt: int
    timed_out: bool


@dataclass(frozen=True)
class ProgressEvent:
    """One line of progress.log: an item started, finished (with exit code and seconds) or was skipped."""

    at: float
    item_id: str
    event: str
    attempt: int
    exit_code: int | None = None
    seconds: float | None = None


def item_dir(pack_dir: Path, item_id: str) -> Path:
    return pack_dir / ITEMS_DIR / item_id


def item_work_dir(pack_dir: Path, item_id: str) -> Path:
    """The item's own copy of the code: R's working directory, holding its outputs/."""
    return item_dir(pack_dir, item_id) / WORK_DIR


def item_log(pack_dir: Path, item_id: str) -> Path:
    return item_dir(pack_dir, item_id) / LOG_FILE


def item_outputs(pack_dir: Path, item_id: str) -> Path:
    return item_work_dir(pack_dir, item_id) / OUTPUTS_DIR


def input_reference(name: str) -> str:
    """The text an item's argv holds for a data input mounted by its job (see command_text)."""
    return "${" + INPUT_VARIABLE + name + "}"


def command_text(argv: Sequence[str], outputs: Iterable[str]) -> str:
    """The item's cmd.sh: named outputs created, then R exec'd (so a timeout or cancel signals R itself); every
    value shell-quoted, so the runner's shell passes it to R verbatim, except input_reference()s, which the shell
    expands (inside double quotes) to the job's mount path of that input."""
    lines = [f"mkdir -p {shlex.quote(f'{OUTPUTS_DIR}/{name}')}" for name in outputs]
    command = INPUT_REFERENCE.sub(lambda m: "'\"${" + INPUT_VARIABLE + m.group(1) + "}\"'", shlex.join(argv))
    return "\n".join([*lines, f"exec {command}", ""])


def write_pack(
    pack_dir: Path, items: Sequence[PackItem], snapshot: CodeSnapshot | None, outputs: Iterable[str]
) -> None:
    """The pack's folder: the code snapshot, the runner beside it, each item's command, items.txt written last (a
    pack without it was never complete and is written again)."""
    names = list(outputs)
    if pack_dir.exists():
        shutil.rmtree(pack_dir)
    (pack_dir / "code").mkdir(parents=True)
    if snapshot is not None:
        copy_snapshot(snapshot, pack_dir / "code")
    shutil.copy2(RUNNER, pack_dir / RUNNER.name)
    for item in items:
        if not ITEM_ID.match(item.item_id):
            raise ValueError(f"item id {item.item_id!r} is not a safe folder name")
        item_dir(pack_dir, item.item_id).mkdir(parents=True)
        for name, source in item.files.items():
            target = item_dir(pack_dir, item.item_id) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        atomic_write_text(item_dir(pack_dir, item.item_id) / COMMAND_FILE, command_text(item.argv, names))
    lines = "".join(f"{item.item_id} {item.first_attempt} {item.last_attempt}\n" for item in items)
    atomic_write_text(pack_dir / ITEMS_FILE, lines)


def runner_command(pack_dir: Path, processes: int, timeout_s: float | None) -> list[str]:
    """How a job starts the runner over its pack folder."""
    limit = "0" if timeout_s is None else f"{timeout_s:g}"
    return ["sh", str(pack_dir / RUNNER.name), str(pack_dir), str(processes), limit]


@dataclass(frozen=True)
class PackEntry:
    """A line of items.txt: the item and the attempts the pack may make of it."""

    item_id: str
    first_attempt: int
    last_attempt: int


def pack_entries(pack_dir: Path) -> list[PackEntry]:
    """The items a pack holds, in the order it runs them; none when items.txt was never written whole."""
    try:
        text = (pack_dir / ITEMS_FILE).read_text(encoding="utf-8")
    except OSError:
        return []
    entries = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            entries.append(PackEntry(parts[0], int(parts[1]), int(parts[2])))
    return entries


def read_status(pack_dir: Path, item_id: str) -> ItemStatus | None:
    """The item's status after its latest attempt; None before any attempt ended (or if it is unreadable)."""
    try:
        text = (item_dir(pack_dir, item_id) / STATUS_FILE).read_text(encoding="utf-8")
    except OSError:
        return None
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        return ItemStatus(
            exit_code=int(fields["exit"]),
            seconds=float(fields["seconds"]),
            attempt=int(fields["attempt"]),
            timed_out=fields.get("timed_out") == "1",
        )
    except (KeyError, ValueError):
        return None


def parse_event(line: str) -> ProgressEvent | None:
    """A progress.log line, or None for one the runner did not write whole."""
    parts = line.split()
    try:
        if len(parts) == 4:
            return ProgressEvent(float(parts[0]), parts[1], parts[2], int(parts[3]))
        if len(parts) == 6:
            return ProgressEvent(float(parts[0]), parts[1], parts[2], int(parts[3]), int(parts[4]), float(parts[5]))
    except ValueError:
        return None
    return None


class ProgressReader:
    """Reads a pack's progress.log incrementally while the job runs: only whole lines, each once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_events(self) -> list[ProgressEvent]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        events = (parse_event(line) for line in complete.decode("utf-8", "replace").splitlines())
        return [event for event in events if event is not None]
