"""One ablation's table and figure from its runs' metric rows: each arm's mean ± sd over seeds."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# metric column -> heading, in the order of the table and the figure's panels
METRICS = {"purity": "Purity", "nmi": "NMI", "c_v": "C_V", "c_npmi": "NPMI", "td": "TD"}
ARM_FIELDS = ("corpus", "model", "lm", "prompt", "num_topics", "tau")


def _field_label(field: str, value) -> str:
    if field == "tau":
        return f"τ={value:g}"
    if field == "num_topics":
        return f"K={value}"
    return str(value)


def summarise_arms(runs: pd.DataFrame, metrics=tuple(METRICS)) -> pd.DataFrame:
    """One row per arm (the runs that differ only in their seed), in the order the arms first appear:
    the arm fields, `arm` (a label naming the fields that vary across arms), `n` (seeds), and
    `<metric>_mean`, `<metric>_sd` (sample sd; NaN for one seed)."""
    runs = runs.copy()
    for field in ARM_FIELDS:
        if field not in runs:
            runs[field] = None
    metrics = [m for m in metrics if m in runs]
    keys = runs[list(ARM_FIELDS)].astype(object).where(runs[list(ARM_FIELDS)].notna(), "–")
    runs["_arm"] = [tuple(row) for row in keys.itertuples(index=False)]
    varying = [f for i, f in enumerate(ARM_FIELDS) if len({arm[i] for arm in runs["_arm"]}) > 1] or ["model"]
    rows = []
    for arm, group in runs.groupby("_arm", sort=False):
        row = dict(zip(ARM_FIELDS, group.iloc[0][list(ARM_FIELDS)]))
        row["arm"] = ", ".join(_field_label(f, row[f]) for f in varying if arm[ARM_FIELDS.index(f)] != "–")
        row["n"] = len(group)
        for metric in metrics:
            values = group[metric].to_numpy(dtype=float)
            row[f"{metric}_mean"] = values.mean()
            row[f"{metric}_sd"] = values.std(ddof=1) if len(values) > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(summary: pd.DataFrame) -> str:
    """Arms x metrics, mean ± sd over seeds."""
    metrics = [m for m in METRICS if f"{m}_mean" in summary]
    lines = ["| Arm | n | " + " | ".join(METRICS[m] for m in metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for _, row in summary.iterrows():
        cells = []
        for metric in metrics:
            mean, sd = row[f"{metric}_mean"], row[f"{metric}_sd"]
            cells.append(f"{mean:.3f}" + ("" if np.isnan(sd) else f" ± {sd:.3f}"))
        lines.append(f"| {row['arm']} | {row['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_arms(summary: pd.DataFrame, path: str | Path, title: str) -> None:
    """One panel per metric: a bar per arm with its sd over seeds."""
    metrics = [m for m in METRICS if f"{m}_mean" in summary and summary[f"{m}_mean"].notna().any()]
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.2 + 0.45 * len(summary) * len(metrics), 4.2), squeeze=False)
    positions = np.arange(len(summary))
    colours = [plt.cm.tab10(i % 10) for i in positions]
    for ax, metric in zip(axes[0], metrics):
        ax.bar(positions, summary[f"{metric}_mean"], yerr=summary[f"{metric}_sd"].fillna(0), capsize=3, color=colours)
        ax.set_title(METRICS[metric])
        ax.set_xticks(positions, summary["arm"], rotation=60, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    seeds = ", ".join(sorted({str(n) for n in summary["n"]}))
    fig.suptitle(f"{title} (mean ± sd over {seeds} seed(s))", fontsize=11)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
