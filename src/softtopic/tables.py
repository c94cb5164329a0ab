"""The paper's main table from per-run metric rows (SPEC §5, §7).

Each method (a baseline, or DSL with one LM) gets the mean ± sd of each metric over its runs
(K x seeds) on each corpus; DSL rows use one temperature (the paper's default tau = 3), the others
feed the temperature figure. On each (corpus, metric) the best method is marked when Welch's t-test
puts it above every other method at p < .05, and the worst likewise below every other.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import product

import numpy as np
import pandas as pd
from scipy.stats import ttest_ind

# metric column -> heading, in the paper's order (C_V / LLM / I-RBO / Purity), then the extras
COLUMNS = {"c_v": "C_V", "llm_rating": "LLM", "irbo": "I-RBO", "purity": "Purity", "c_npmi": "NPMI", "p@10": "P@10"}
RETRIEVAL_COLUMNS = {"p@1": "P@1", "p@5": "P@5", "p@10": "P@10"}


# model name -> the paper's name for it; DSL backbones read "DSL-<backbone>, <LM>"
DISPLAY_NAMES = {"lda": "LDA", "prodlda": "ProdLDA", "zeroshottm": "ZeroShotTM", "combinedtm": "CombinedTM",
                 "bertopic": "BERTopic", "etm": "ETM", "ecrtm": "ECRTM", "fastopic": "FASTopic", "dsl": "DSL",
                 "dsl-etm": "DSL-ETM", "dsl-ecrtm": "DSL-ECRTM", "dsl-fastopic": "DSL-FASTopic",
                 "kmeans-embeddings": "Reference: K-means on embeddings",
                 "kmeans-hidden": "Reference: K-means on hidden states",
                 "kmeans-combined": "Reference: K-means on hidden states + embeddings"}


def method_name(model: str, lm: str | None = None) -> str:
    """A table row's name: the model's display name, with the LM (given for LM-supervised models)."""
    name = DISPLAY_NAMES.get(model, model)
    return name if lm is None else f"{name}, {lm}"


def main_table_runs(runs: pd.DataFrame, tau: float, lm_models: Collection[str], protocol: str = "–") -> pd.DataFrame:
    """The runs of the main table: every baseline run, LM-supervised runs at temperature `tau`.
    `lm_models`: the model and variant names whose runs read the LM stage (`variants.reads_lm_stage`).
    Rows without a `protocol` (metrics.csv written before it was recorded) get `protocol`."""
    supervised = runs["model"].isin(list(lm_models))
    keep = ~supervised | np.isclose(runs["tau"].astype(float), tau, rtol=1e-9, atol=0)
    runs = runs[keep].copy()
    if "protocol" not in runs:
        runs["protocol"] = protocol
    runs["protocol"] = runs["protocol"].fillna(protocol)
    runs["method"] = [method_name(m, lm if reads else None)
                      for m, lm, reads in zip(runs["model"], runs["lm"], supervised[keep])]
    return runs


def significantly(values: list[np.ndarray], index: int, side: str, alpha: float = 0.05) -> bool:
    """Whether values[index] lies above (side 'greater') or below ('less') every other group, Welch p < alpha."""
    others = [v for i, v in enumerate(values) if i != index]
    if not others:
        return False
    for other in others:
        if len(values[index]) < 2 or len(other) < 2:
            return False
        if np.ptp(values[index]) == 0 and np.ptp(other) == 0:
            return False  # no spread on either side: Welch's test is undefined
        p = ttest_ind(values[index], other, equal_var=False, alternative=side).pvalue
        if not np.isfinite(p) or p >= alpha:
            return False
    return True


def summarise(runs: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per (corpus, method, metric): mean, sd, n, and best/worst marks."""
    rows = []
    for corpus, metric in product(sorted(runs["corpus"].unique()), [m for m in metrics if m in runs]):
        here = runs[runs["corpus"] == corpus].dropna(subset=[metric])
        methods = sorted(here["method"].unique(), key=_order)
        values = [here.loc[here["method"] == m, metric].to_numpy(dtype=float) for m in methods]
        named = here.get("protocol", pd.Series("–", index=here.index)).fillna("–")
        protocols = [", ".join(sorted(set(named[here["method"] == m]))) for m in methods]
        if not methods:
            continue
        ranked = [i for i, m in enumerate(methods) if not m.startswith("Reference")]  # reference rows: never marked
        contest = [values[i] for i in ranked]
        means = [v.mean() for v in contest]
        best = ranked[int(np.argmax(means))] if ranked else None
        worst = ranked[int(np.argmin(means))] if ranked else None
        for i, (method, v) in enumerate(zip(methods, values)):
            rows.append({
                "corpus": corpus, "method": method, "protocol": protocols[i], "metric": metric, "mean": v.mean(),
                "sd": v.std(ddof=1) if len(v) > 1 else float("nan"), "n": len(v),
                "best": i == best and significantly(contest, ranked.index(i), "greater"),
                "worst": i == worst and len(ranked) > 1 and significantly(contest, ranked.index(i), "less"),
            })
    return pd.DataFrame(rows, columns=["corpus", "method", "protocol", "metric", "mean", "sd", "n", "best", "worst"])


def _cell(row, bold, underline) -> str:
    text = f"{row['mean']:.3f}" + ("" if np.isnan(row["sd"]) else f" ± {row['sd']:.3f}")
    if row["best"]:
        text = bold(text)
    if row["worst"]:
        text = underline(text)
    return text


def _order(method: str) -> tuple:
    """Baselines, then LM-supervised rows (named "<model>, <LM>"), then reference rows."""
    return (method.startswith("Reference"), ", " in method, method)


def with_references(summary: pd.DataFrame, references: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Append retrieval reference rows (one value each, never marked) to a summary; they carry the
    `protocol` of the table they join (no setting of a protocol changes them)."""
    rows = []
    for _, ref in references.iterrows():
        name = "BoW cosine" if ref["reference"] == "bow_cosine" else f"LM soft labels τ=1, {ref['lm']}"
        for metric in RETRIEVAL_COLUMNS:
            rows.append({"corpus": ref["corpus"], "method": f"Reference: {name}", "protocol": protocol,
                         "metric": metric, "mean": ref[metric],
                         "sd": float("nan"), "n": 1, "best": False, "worst": False})
    return pd.concat([summary, pd.DataFrame(rows)], ignore_index=True)


def _grid(summary: pd.DataFrame, columns: dict):
    corpora = list(dict.fromkeys(summary["corpus"]))
    metrics = [m for m in columns if m in set(summary["metric"])]
    methods = sorted(summary["method"].unique(), key=_order)
    lookup = {(r["corpus"], r["method"], r["metric"]): r for _, r in summary.iterrows()}
    named = summary.get("protocol", pd.Series("–", index=summary.index)).fillna("–")
    protocols = {method: named[summary["method"] == method].iloc[0] for method in methods}
    return corpora, metrics, methods, lookup, protocols


def markdown_table(summary: pd.DataFrame, columns: dict = COLUMNS) -> str:
    """Methods x (corpus, metric), mean ± sd; **best**, <u>worst</u> (Welch p < .05); each method's protocol."""
    corpora, metrics, methods, lookup, protocols = _grid(summary, columns)
    header = ["Method", "Protocol"] + [f"{c} {columns[m]}" for c in corpora for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        cells = [method, protocols[method]]
        for corpus in corpora:
            for metric in metrics:
                row = lookup.get((corpus, method, metric))
                cells.append("–" if row is None else _cell(row, lambda t: f"**{t}**", lambda t: f"<u>{t}</u>"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def latex_table(summary: pd.DataFrame) -> str:
    """The same table as a LaTeX tabular (booktabs): corpora as column groups."""
    corpora, metrics, methods, lookup, protocols = _grid(summary, COLUMNS)
    escape = lambda text: text.replace("_", r"\_").replace("&", r"\&")  # noqa: E731
    lines = [
        r"\begin{tabular}{ll" + "c" * (len(corpora) * len(metrics)) + "}",
        r"\toprule",
        " & & " + " & ".join(rf"\multicolumn{{{len(metrics)}}}{{c}}{{{escape(c)}}}" for c in corpora) + r" \\",
        "Method & Protocol & " + " & ".join(escape(COLUMNS[m]) for _ in corpora for m in metrics) + r" \\",
        r"\midrule",
    ]
    for method in methods:
        cells = [escape(method), escape(protocols[method])]
        for corpus in corpora:
            for metric in metrics:
                row = lookup.get((corpus, method, metric))
                cells.append("--" if row is None else _cell(
                    row, lambda t: rf"\textbf{{{t}}}", lambda t: rf"\underline{{{t}}}"
                ).replace("±", r"$\pm$"))
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def retrieval_sampling_note(tables: list[pd.DataFrame]) -> str:
    """Which P@k figures are exact and which come from a sample of queries (with their largest standard
    error), per corpus, from the `retrieval_mode`, `retrieval_queries` and `p@k_se` columns."""
    rows = pd.concat([t for t in tables if "retrieval_mode" in t], ignore_index=True) if any(
        "retrieval_mode" in t for t in tables) else pd.DataFrame()
    notes = []
    for corpus, group in rows.groupby("corpus", sort=False) if len(rows) else []:
        sampled = group[group["retrieval_mode"] == "sampled"]
        if len(sampled):
            se = sampled[[c for c in sampled if c.startswith("p@") and c.endswith("_se")]].to_numpy().max()
            notes.append(f"{corpus}: sampled, {int(sampled['retrieval_queries'].min()):,} queries against all "
                         f"documents (largest standard error {se:.4f})")
        else:
            notes.append(f"{corpus}: exact (every labelled document a query)")
    return ("P@k " + "; ".join(notes) + ".\n\n") if notes else ""
