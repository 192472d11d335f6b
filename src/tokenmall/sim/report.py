"""One self-contained ``report.html``: plots embedded as base64, no external address at all.

It opens with the plain statement of what is backed and what is a promise (from
``domain.economy.health``), then the final figures, the cohorts, the plots, the parameters and
a sample of the daily series. Every figure is a decimal string already; nothing is recomputed.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from tokenmall.domain.economy.health import statement
from tokenmall.sim.output import COHORT_COLUMNS, cohort_values, row_values
from tokenmall.sim.runner import DayRow, SimResult

STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.5}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.backed{border-left:4px solid #27ae60;padding:.5rem 1rem;background:#f0faf3}
.promise{border-left:4px solid #c0392b;padding:.5rem 1rem;background:#fdf2f1}
img{max-width:100%}small{color:#666}
"""

FIGURES = (
    ("price", "积分价格 price"),
    ("pool", "底池 backing pool"),
    ("circulating", "流通积分 circulating points"),
    ("dividend_pool", "分红池 dividend pool"),
    ("quota_outstanding", "未付分红额度 quota outstanding"),
    ("daily_inflow", "当前每日流入（7 日均值） daily inflow"),
    ("days_to_pay_quota", "付清额度所需天数 days to pay the quota"),
    ("stable_outstanding", "恒定积分余额 stable points outstanding"),
    ("stable_cover", "恒定积分覆盖率 stable cover"),
)
SAMPLE_COLUMNS = (
    "day",
    "price",
    "pool",
    "dividend_pool",
    "quota_outstanding",
    "days_to_pay_quota",
    "inflow",
    "dividends_paid",
    "buybacks",
    "exits",
)


def _table(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<p><img alt="{escape(path.stem)}" src="data:image/png;base64,{data}"></p>'


def render(result: SimResult, pngs: list[Path], font: str | None) -> str:
    scenario = result.scenario
    rows = result.rows
    final = rows[-1].health if rows else None
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>tokenmall 模拟报告 · {escape(scenario.name)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>通证经济模拟报告 · Simulation report: {escape(scenario.name)}</h1>",
        f"<p>{escape(scenario.description)}</p>",
        f"<p><small>{scenario.days} 天 days · 随机种子 seed {result.seed} · "
        f"{len(result.buyers)} 位买家 buyers · {result.purchases} 笔订单 purchases</small></p>",
    ]
    if final is not None:
        lines = statement(final)
        parts += [
            "<h2>什么有保障，什么只是承诺 · What is backed, what is a promise</h2>",
            f"<div class='backed'><p>{escape(lines[0])}</p></div>",
            "<div class='promise'>",
            *(f"<p>{escape(line)}</p>" for line in lines[1:]),
            "</div>",
            "<p>价格只涨不跌是算术：每次发放的积分价值不超过它带来的资金。分红额度是承诺："
            "只有将来的销售为它付款，销售停止时它就停止兑现。本报告不构成任何收益承诺。"
            " The price never falls by arithmetic: every grant is worth at most the money it "
            "brings. Dividend quota is a promise paid only by future sales; when sales stop, "
            "it stops being paid. Nothing here promises a return.</p>",
        ]
        public = final.to_public()
        parts += [
            "<h2>最后一天的数字 · Figures on the last day</h2>",
            _table(["", ""], [[label, public[key] or "永不 never"] for key, label in FIGURES]),
        ]
    cohorts = [cohort_values(c) for c in result.cohorts()]
    parts += [
        "<h2>早期与晚期买家 · First and last buyers</h2>",
        "<p>所得 = 分红 + 回购所得 + 持有的恒定积分 + 按现价回购持有积分可得的金额（扣手续费）。"
        " Received = dividends + buyback proceeds + stable points held + what a buyback of the "
        "points still held would pay now, after the fee.</p>",
        _table(list(COHORT_COLUMNS), [[c[k] for k in COHORT_COLUMNS] for c in cohorts]),
        "<h2>图表 · Plots</h2>",
        *(_image(path) for path in pngs),
    ]
    if font is None:
        parts.append(
            "<p><strong>未找到中文字体，图中中文可能显示为方框。</strong> No CJK font "
            "was found; Chinese labels in the plots may show as boxes.</p>"
        )
    params = scenario.params.to_public()
    parts += [
        "<h2>参数 · Parameters</h2>",
        _table(["name", "value"], [[k, str(v)] for k, v in params.items()]),
        "<h2>每日数据（抽样） · Daily series (sample; full data in series.csv)</h2>",
        _table(
            list(SAMPLE_COLUMNS),
            [[row_values(r)[k] or "never" for k in SAMPLE_COLUMNS] for r in _sample(result)],
        ),
    ]
    violations = result.economy.violations()
    parts.append(
        "<p>不变量检查：全部成立。 Invariants: all hold.</p>"
        if not violations
        else "<p><strong>不变量被破坏 Invariants violated:</strong> "
        + escape("; ".join(violations))
        + "</p>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _sample(result: SimResult, count: int = 20) -> list[DayRow]:
    rows = result.rows
    step = max(1, len(rows) // count)
    picked = rows[::step]
    if rows and picked[-1] is not rows[-1]:
        picked.append(rows[-1])
    return picked


def write_report(result: SimResult, pngs: list[Path], font: str | None, out: Path) -> Path:
    path = out / "report.html"
    path.write_text(render(result, pngs, font), encoding="utf-8")
    return path
