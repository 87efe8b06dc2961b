"""results/<run>/<metric>_by_trial.png: the objective of each trial in the order trials were asked, with the best so
far as a step line, so a user sees whether the sampler was still improving when the budget ran out. Drawn on the
Agg canvas with matplotlib's object API, as rjobs.results.plots draws the by-parameter plot."""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rjobs.engine.ledger import RunLedger
from rjobs.inputs.result_options import Objective
from rjobs.search.trials import Trial, TrialState


def trial_plot_path(ledger: RunLedger, metric: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", metric).strip("_.") or "metric"
    return ledger.run_dir / f"{safe}_by_trial.png"


def plot_metric_by_trial(ledger: RunLedger, trials: Sequence[Trial], objective: Objective, sampling: str) -> Path:
    """Completed trials as points (their metric), the best so far as a line, stopped trials as marks on the axis."""
    from matplotlib.figure import Figure

    sign = 1.0 if objective.goal == "min" else -1.0
    done = [(t.index, sign * t.loss) for t in trials if t.state == TrialState.COMPLETED and t.loss is not None]
    fig = Figure(figsize=(7.0, 3.5), dpi=100, layout="constrained")
    ax = fig.subplots()
    if done:
        xs, ys = [x for x, _ in done], [y for _, y in done]
        ax.scatter(xs, ys, color="#1f77b4", zorder=3, label="trial")
        best, line = math.inf, []
        for _, y in done:
            best = min(best, sign * y)
            line.append(sign * best)
        ax.step(xs, line, where="post", color="#d62728", label="best so far")
    stopped = [t.index for t in trials if t.state == TrialState.TERMINATED]
    if stopped:
        ax.scatter(
            stopped,
            [0] * len(stopped),
            marker="x",
            color="grey",
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            label="stopped early",
        )
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{objective.metric} ({objective.goal} is best)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{ledger.run}: {objective.metric} over {len(trials)} trial(s), {sampling} sampling", fontsize=10)
    path = trial_plot_path(ledger, objective.metric)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
