"""PNG plots with Chinese labels, drawn by matplotlib's Agg backend (no display needed).

The CJK font is found by file path (``fonts-noto-cjk`` on Debian, or any ``*CJK*``/``*SC*``
font under the usual font folders) and registered with ``font_manager.addfont``, so it works
without rebuilding matplotlib's font cache. Without such a font the plots are still drawn and
``find_cjk_font`` returns None, which the report says plainly.

Values become floats here for drawing only; every such line is marked ``# float-ok: plotting``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from tokenmall.adapters.fonts import cjk_font_paths
from tokenmall.sim.runner import SimResult

_font_name: str | None = None
_font_path: str | None = None


def find_cjk_font() -> str | None:
    """The path of a CJK font, registered with matplotlib and made the default; or None."""
    global _font_name, _font_path
    if _font_path is not None:
        return _font_path
    for path in cjk_font_paths():
        try:
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
        _font_name, _font_path = name, path
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
        matplotlib.rcParams["axes.unicode_minus"] = False
        return path
    return None


def _yuan(fen: int) -> float:
    return fen / 100  # float-ok: plotting


def _points(units: int) -> float:
    return units / 10**8  # float-ok: plotting


def _price(num: int, den: int) -> float:
    return num * 10**6 / den  # float-ok: plotting (fen per unit to yuan per point)


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_all(result: SimResult, out: Path) -> list[Path]:
    """Draw every plot of a run into ``out``; returns the PNG paths in report order."""
    find_cjk_font()
    out.mkdir(parents=True, exist_ok=True)
    rows = result.rows
    days = [row.day for row in rows]
    title = result.scenario.name
    paths = []

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(days, [_price(r.price_num, r.price_den) for r in rows], color="#c0392b")
    ax.set(title=f"积分价格（{title}）", xlabel="天", ylabel="价格（元/积分）")
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "price.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(days, [_yuan(r.pool) for r in rows], label="底池（保障全部流通积分）")
    ax.plot(days, [_yuan(r.dividend_pool) for r in rows], label="分红池余额")
    ax.plot(
        days,
        [_yuan(r.health.quota_outstanding) for r in rows],
        label="未付分红额度（承诺，无保障）",
        linestyle="--",
    )
    if any(r.health.stable_outstanding for r in rows):
        ax.plot(days, [_yuan(r.health.stable_outstanding) for r in rows], label="恒定积分余额")
    ax.set(title="底池、分红池与未付额度", xlabel="天", ylabel="元")
    ax.ticklabel_format(axis="y", style="plain")
    ax.legend()
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "pools.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(days, [_yuan(r.inflow) for r in rows], label="每日新增资金（销售）")
    ax.plot(days, [_yuan(r.dividends_paid) for r in rows], label="每日分红")
    ax.plot(days, [_yuan(r.buybacks) for r in rows], label="每日回购（卖出与出局）")
    ax.set(title="每日资金流", xlabel="天", ylabel="元")
    ax.ticklabel_format(axis="y", style="plain")
    ax.legend()
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "flows.png"))

    fig, ax = plt.subplots(figsize=(8, 4))
    to_pay = [r.health.days_to_pay_quota for r in rows]
    ax.plot(days, [float("nan") if d is None else d for d in to_pay], color="#8e44ad")
    never = [day for day, d in zip(days, to_pay, strict=True) if d is None]
    if never:
        ax.axvspan(
            min(never), max(never), color="#e74c3c", alpha=0.12, label="销售停止：额度永远付不完"
        )
        ax.legend()
    ax.set(title="按当前流入付清未付额度所需天数", xlabel="天", ylabel="天数")
    ax.grid(alpha=0.3)
    paths.append(_save(fig, out / "days_to_pay.png"))

    first, last = result.cohorts()
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = ["最早 10% 买家", "最晚 10% 买家"]
    spent = [_yuan(first.spent), _yuan(last.spent)]
    received = [_yuan(first.received), _yuan(last.received)]
    xs = [0.0, 1.0]
    ax.bar([x - 0.2 for x in xs], spent, width=0.4, label="花费")
    ax.bar([x + 0.2 for x in xs], received, width=0.4, label="所得（分红＋回购＋持有价值）")
    for x, cohort in zip(xs, (first, last), strict=True):
        ax.annotate(
            f"{cohort.multiple or '-'} 倍",
            (x + 0.2, _yuan(cohort.received)),
            ha="center",
            va="bottom",
        )
    ax.set_xticks(xs, labels)
    ax.set(title="早期与晚期买家的结果", ylabel="元")
    ax.legend()
    paths.append(_save(fig, out / "cohorts.png"))
    return paths


def draw_sweep(axes: list[tuple[str, list[str]]], rows: list[dict[str, str]], path: Path) -> Path:
    """A heatmap of the last 10% of buyers' multiple over a two-parameter grid."""
    find_cjk_font()
    (x_name, x_values), (y_name, y_values) = axes
    cells = {(row[x_name], row[y_name]): row["last_multiple"] for row in rows}
    grid = [
        [float(cells[(x, y)] or "nan") for x in x_values]  # float-ok: plotting
        for y in y_values
    ]
    fig, ax = plt.subplots(figsize=(7, 5))
    image = ax.imshow(grid, origin="lower", cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(x_values)), x_values)
    ax.set_yticks(range(len(y_values)), y_values)
    for j, y in enumerate(y_values):
        for i, x in enumerate(x_values):
            ax.text(i, j, cells[(x, y)] or "-", ha="center", va="center", fontsize=8)
    ax.set(title="最晚 10% 买家的所得倍数", xlabel=x_name, ylabel=y_name)
    fig.colorbar(image, ax=ax, label="所得 / 花费")
    return _save(fig, path)
