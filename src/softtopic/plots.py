"""The temperature sweep: each metric against tau, one line per model and K, mean +- sd over seeds."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

PANELS = {
    "purity": "Purity",
    "nmi": "NMI",
    "c_v": "C_V coherence",
    "c_npmi": "NPMI coherence",
    "td": "Topic diversity (TD)",
    "irbo": "Inverted RBO",
}
LINESTYLES = ["-", "--", ":", "-."]


def series_name(row) -> str:
    if row["model"] == "dsl":
        prompt = "" if row["prompt"] == "default" else f", {row['prompt']}"
        return f"DSL ({row['lm']}{prompt})"
    return {"prodlda": "ProdLDA", "lda": "LDA"}.get(row["model"], row["model"])


def summarise(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and sd over seeds of `metric` per (series, K, tau)."""
    frame = table.assign(series=table.apply(series_name, axis=1), tau=table["tau"].fillna(-1.0))
    grouped = frame.groupby(["series", "num_topics", "tau"])[metric]
    return grouped.agg(["mean", "std", "count"]).reset_index().fillna({"std": 0.0})


def plot_temperature_sweep(table: pd.DataFrame, path: str | Path, columns: int = 3) -> None:
    """A block of panels (one per metric) for each corpus. DSL varies with tau; the tau-free
    baselines are flat lines with a +- sd band."""
    metrics = [m for m in PANELS if m in table.columns and table[m].notna().any()]
    corpora = sorted(table["corpus"].unique())
    taus = sorted(table["tau"].dropna().unique())
    span = (min(taus), max(taus)) if taus else (1.0, 1.0)
    series = sorted(table.apply(series_name, axis=1).unique(), key=lambda s: (not s.startswith("DSL"), s))
    colours = {name: plt.cm.tab10(i % 10) for i, name in enumerate(series)}
    ks = sorted(table["num_topics"].unique())
    style = {k: LINESTYLES[i % len(LINESTYLES)] for i, k in enumerate(ks)}
    rows_per_corpus = -(-len(metrics) // columns)
    fig, axes = plt.subplots(
        rows_per_corpus * len(corpora), columns, figsize=(4.2 * columns, 3.2 * rows_per_corpus * len(corpora) + 1.2),
        squeeze=False,
    )
    for block, corpus in enumerate(corpora):
        subset = table[table["corpus"] == corpus]
        for number, metric in enumerate(metrics):
            ax = axes[block * rows_per_corpus + number // columns][number % columns]
            for (name, k), group in summarise(subset, metric).groupby(["series", "num_topics"]):
                kwargs = dict(color=colours[name], linestyle=style[k], label=f"{name}, K={k}")
                if (group["tau"] < 0).all():  # a baseline: no temperature
                    mean, sd = group["mean"].iloc[0], group["std"].iloc[0]
                    ax.hlines(mean, *span, linewidth=1.5, **kwargs)
                    ax.fill_between(span, mean - sd, mean + sd, color=colours[name], alpha=0.12, linewidth=0)
                else:
                    group = group.sort_values("tau")
                    ax.errorbar(group["tau"], group["mean"], yerr=group["std"], marker="o", markersize=4,
                                capsize=3, linewidth=1.5, **kwargs)
            ax.set_title(f"{corpus}: {PANELS[metric]} (higher is better)", fontsize=10)
            ax.set_xlabel("soft-label temperature τ")
            ax.set_ylabel(PANELS[metric])
            ax.set_xticks(taus)
            ax.grid(alpha=0.3)
        for number in range(len(metrics), rows_per_corpus * columns):
            axes[block * rows_per_corpus + number // columns][number % columns].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    legend_rows = -(-len(labels) // 4)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    seeds = table["seed"].nunique()
    fig.suptitle(f"Metrics against the soft-label temperature (mean ± sd over {seeds} seed(s))", fontsize=12)
    fig.tight_layout(rect=(0, 0.035 * legend_rows + 0.01, 1, 0.97))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
