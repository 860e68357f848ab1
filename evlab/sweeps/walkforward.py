"""``walk_forward``: choose parameters on each training window, trade them on the next test
window, and stitch the out-of-sample results.

Both stages run on the sweep's engine: first one sweep of the whole grid over every training
window, then one run per window with its best parameters on its test window. The worker cuts
each window (``Source(start=, end=)`` goes to the Replayer); only names and paths travel.
A test run starts a fresh account; its strategy first sees ``warmup`` (by default the
training window: data before the test, so no look-ahead) without trading, so a slow moving
average is ready when the test starts. The stitched equity compounds the test runs: each
window's curve is scaled to start where the previous one ended.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from evlab.analytics import SUMMARY_FIELDS
from evlab.events import EventType
from evlab.sweeps.broker import Broker
from evlab.sweeps.grid import Grid, expand
from evlab.sweeps.source import Source, as_sources, time_label
from evlab.sweeps.task import RESULT_COLUMNS, Metrics
from evlab.sweeps.windows import Window, cut, span

__all__ = ["WalkForward", "walk_forward"]


class WalkForward:
    """A walk-forward study's result: ``choices`` (one row per window: its spans, the chosen
    parameters, their training and test scores, any error), ``equity`` (the stitched
    out-of-sample curve), ``train`` and ``test`` (every run's row), ``plot()``."""

    def __init__(self, choices: pd.DataFrame, equity: pd.Series, train: pd.DataFrame,
                 test: pd.DataFrame, objective: str) -> None:
        self.choices, self.equity, self.train, self.test = choices, equity, train, test
        self.objective = objective

    def plot(self, title: str | None = None) -> Any:
        """A plotly figure: the stitched out-of-sample equity, each test window shaded and
        labelled with the parameters chosen for it."""
        import plotly.graph_objects as go

        fig = go.Figure(go.Scatter(x=self.equity.index, y=self.equity.to_numpy(),
                                   name="out-of-sample equity", mode="lines"))
        params = [c for c in self.choices.columns if c.startswith("param_")]
        for k, row in self.choices.iterrows():
            text = ", ".join(f"{c[6:]}={row[c]}" for c in params) if pd.isna(row["error"]) \
                else "no choice"
            fig.add_vrect(x0=row["test_start"], x1=row["test_end"], line_width=0, opacity=0.08,
                          fillcolor="royalblue" if int(str(k)) % 2 == 0 else "seagreen",
                          annotation_text=text, annotation_position="top left",
                          annotation_font_size=10)
        fig.update_layout(title=title or f"Walk-forward: best {self.objective} per training "
                          "window, traded on the next", yaxis_title="equity",
                          showlegend=False, margin={"t": 60})
        return fig

    def __repr__(self) -> str:
        return (f"<WalkForward {len(self.choices)} windows, objective {self.objective!r}, "
                f"out-of-sample {self.equity.index[0]:%Y-%m-%d} .. "
                f"{self.equity.index[-1]:%Y-%m-%d}>" if len(self.equity)
                else f"<WalkForward {len(self.choices)} windows, no out-of-sample run>")

    def _repr_html_(self) -> str:
        html: str = self.choices._repr_html_()  # type: ignore[operator]
        return html


def walk_forward(strategy: Callable[..., Any], grid: Grid, source: Any, *, train: Any,
                 test: Any, step: Any = None, objective: str = "sharpe",
                 maximize: bool = True, warmup: Any = "train", client: Any = None,
                 broker: Broker | None = None, metrics: Metrics = None,
                 on: str | Iterable[str] = EventType.BAR, timeout: float | None = 600.0,
                 progress: bool = True, max_in_flight: int = 64) -> WalkForward:
    """Walk ``strategy`` forward over ``source``: per window, the parameters of ``grid`` with
    the best ``objective`` (a metric column, highest wins unless ``maximize=False``; ties go
    to the first in grid order) on ``train`` are run on the following ``test`` span.

    ``train``, ``test``, ``step`` (default ``test``): time spans (``"730D"``) or numbers of
    bar times. ``warmup``: what the test run's strategy sees first without trading:
    ``"train"`` (its training window), a span before the test, or None. The rest is as for
    :func:`evlab.sweep` (``client``, ``broker``, ``metrics``, ``on``, ``timeout``).
    """
    from evlab.sweeps import _reserved, launch

    params = expand(grid, reserved=_reserved(metrics))
    if isinstance(metrics, (list, tuple)) and objective not in metrics:
        raise ValueError(f"objective {objective!r} is not among metrics={list(metrics)!r}")
    if metrics is None and objective not in SUMMARY_FIELDS:
        raise ValueError(f"objective: a metric of the summary ({', '.join(SUMMARY_FIELDS)}), "
                         f"got {objective!r}")
    srcs = as_sources(source)
    if len(srcs) != 1:
        raise ValueError(f"walk_forward: one source (a list of {len(srcs)} was given); walk "
                         "each forward on its own")
    base = srcs[0]
    if base.warmup is not None:
        raise ValueError("walk_forward: the source's warmup is set per test window; leave "
                         "Source.warmup unset (use warmup=)")
    spans = span("train", train), span("test", test)
    times = base.times()
    windows = cut(times, *spans, span("step", test if step is None else step), base.name)
    warm = _warmups(warmup, windows, times)
    options = {"client": client, "broker": broker, "metrics": metrics, "on": on,
               "timeout": timeout, "progress": progress, "max_in_flight": max_in_flight}

    trains = [_cut(base, w.train_start, w.train_end) for w in windows]
    fit = launch(strategy, [(combo, s) for s in trains for combo in params],
                 what="walk-forward train", **options).result()
    fit["window"] = np.repeat(np.arange(len(windows)), len(params))
    best = [_best(fit[fit["window"] == k], objective, maximize) for k in range(len(windows))]
    chosen = {k: b % len(params) for k, b in enumerate(best) if b is not None}
    picks = [(params[j], dataclasses.replace(_cut(base, windows[k].test_start,
                                                  windows[k].test_end), warmup=warm[k]))
             for k, j in chosen.items()]
    run = launch(strategy, picks, what="walk-forward test", equity=True, **options)
    results = run.outcomes()
    tested = run.result()
    tested.index = pd.Index(list(chosen), name="window")
    choices = _choices(windows, params, best, fit, tested, objective)
    equity = _stitch([r.get("equity") for r in results], (broker or Broker()).cash)
    return WalkForward(choices, equity, fit, tested, objective)


def _cut(base: Source, lo: int, hi: int) -> Source:
    label = None if base.label is None else f"{base.label} {time_label(lo)}..{time_label(hi)}"
    return dataclasses.replace(base, start=pd.Timestamp(lo, tz="UTC"),
                               end=pd.Timestamp(hi, tz="UTC"), label=label)


def _warmups(warmup: Any, windows: list[Window], times: np.ndarray) -> list[Any]:
    """Where each test run's strategy starts seeing bars (None: at the test's start)."""
    if warmup is None:
        return [None] * len(windows)
    if isinstance(warmup, str) and warmup == "train":
        return [pd.Timestamp(w.train_start, tz="UTC") for w in windows]
    length = span("warmup", warmup)
    out = []
    for w in windows:
        if length.bars is not None:
            at = int(times[max(0, w.test_pos - length.bars)])
        else:
            assert length.ns is not None
            at = max(int(times[0]), w.test_start - length.ns)
        out.append(pd.Timestamp(at, tz="UTC"))
    return out


def _best(rows: pd.DataFrame, objective: str, maximize: bool) -> int | None:
    """The row label (position in the training sweep) of the best run, or None."""
    if objective not in rows.columns:
        raise ValueError(f"objective {objective!r} is not a column of the results: "
                         f"{', '.join(c for c in rows.columns if c not in RESULT_COLUMNS)}")
    score = pd.to_numeric(rows[objective], errors="coerce")
    score = score[rows["error"].isna() & np.isfinite(score)]
    if score.empty:
        return None
    return int(score.idxmax() if maximize else score.idxmin())


def _choices(windows: list[Window], params: list[dict[str, Any]], best: list[int | None],
             fit: pd.DataFrame, tested: pd.DataFrame, objective: str) -> pd.DataFrame:
    names = list(dict.fromkeys(k for combo in params for k in combo))
    rows = []
    for k, w in enumerate(windows):
        row: dict[str, Any] = {
            "train_start": pd.Timestamp(w.train_start, tz="UTC"),
            "train_end": pd.Timestamp(w.train_end, tz="UTC"),
            "test_start": pd.Timestamp(w.test_start, tz="UTC"),
            "test_end": pd.Timestamp(w.test_end, tz="UTC")}
        pick = best[k]
        combo = params[pick % len(params)] if pick is not None else {}
        row.update({f"param_{n}": combo.get(n) for n in names})
        row[f"train_{objective}"] = fit.at[pick, objective] if pick is not None else np.nan
        if pick is None:
            row[f"test_{objective}"], row["test_total_return"] = np.nan, np.nan
            row["error"] = f"no run on the training window gave a finite {objective}"
        else:
            test = tested.loc[k]
            row[f"test_{objective}"] = test.get(objective, np.nan)
            row["test_total_return"] = test.get("total_return", np.nan)
            row["error"] = test["error"]
        rows.append(row)
    frame = pd.DataFrame(rows, index=pd.Index(range(len(windows)), name="window"))
    frame["error"] = frame["error"].astype(object).where(frame["error"].notna(), None)
    return frame


def _stitch(curves: list[pd.Series | None], cash: float) -> pd.Series:
    """The test curves chained: each scaled to start at the previous one's final equity."""
    parts, capital = [], cash
    for curve in curves:
        if curve is None or curve.empty:
            continue
        scaled = curve * (capital / cash)
        parts.append(scaled)
        capital = float(scaled.iloc[-1])
    if not parts:
        return pd.Series([], dtype="float64", name="equity",
                         index=pd.DatetimeIndex([], tz="UTC", name="time"))
    stitched: pd.Series = pd.concat(parts).rename("equity")
    return stitched
