"""`actorstance report SCORED_FILE`: what a scored corpus says about its actors.

Per actor: rows, and shares of each stance and sentiment; per period (month or year) when rows
carry a `date`; the actor pairs most often co-mentioned in sentences where both are cooperative,
and where both are adversarial. Writes `summary.json` and a self-contained `summary.html`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

from inference.errors import InputError
from inference.io import AtomicFile, write_json
from inference.score import default_side_path

from .html import Page
from .plots import heatmap_png, stacked_shares_png, time_series_png
from .show import load_rows

STANCES = ("cooperative", "adversarial", "neutral")
SENTIMENTS = ("positive", "neutral", "negative")


def _period(date: str | None, granularity: str) -> str | None:
    if not date or len(str(date)) < 7:
        return None
    return str(date)[:7] if granularity == "month" else str(date)[:4]


def summarise_rows(rows: list[dict], granularity: str = "month", top: int = 20) -> dict:
    actors: dict[str, dict] = {}
    names: dict[str, str] = {}
    for row in rows:
        entry = actors.setdefault(row["actor_id"], {"rows": 0, "stance": Counter(), "sentiment": Counter()})
        entry["rows"] += 1
        entry["stance"][row["stance"]] += 1
        entry["sentiment"][row["sentiment"]] += 1
        names[row["actor_id"]] = row.get("actor_name") or row["actor_id"]
    per_actor = {
        actor: {
            "name": names[actor], "rows": e["rows"],
            "stance": {s: e["stance"][s] for s in STANCES},
            "stance_share": {s: e["stance"][s] / e["rows"] for s in STANCES},
            "sentiment": {s: e["sentiment"][s] for s in SENTIMENTS},
            "sentiment_share": {s: e["sentiment"][s] / e["rows"] for s in SENTIMENTS},
        }
        for actor, e in sorted(actors.items(), key=lambda item: -item[1]["rows"])
    }
    periods: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        period = _period(row.get("date"), granularity)
        if period:
            periods[period][row["stance"]] += 1
            periods[period]["rows"] += 1
    per_period = {p: {"rows": c["rows"], "stance_share": {s: c[s] / c["rows"] for s in STANCES}}
                  for p, c in sorted(periods.items())}
    sentences: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        sentences[(row["doc_id"], row["sentence_index"])].append(row)
    pairs = {"cooperative": Counter(), "adversarial": Counter()}
    for members in sentences.values():
        for a, b in combinations(sorted(members, key=lambda r: r["actor_id"]), 2):
            if a["stance"] == b["stance"] and a["stance"] in pairs:
                pairs[a["stance"]][(a["actor_id"], b["actor_id"])] += 1
    co_mentions = {stance: [{"actors": list(pair), "names": [names[pair[0]], names[pair[1]]], "sentences": n}
                            for pair, n in counter.most_common(top)] for stance, counter in pairs.items()}
    return {"rows": len(rows), "documents": len({r["doc_id"] for r in rows}), "actors": per_actor,
            "periods": per_period, "period_granularity": granularity, "co_mentions": co_mentions}


def summarise_relations(rows: list[dict], granularity: str = "month", top: int = 15,
                        dyads: list[tuple[str, str]] | None = None) -> dict:
    """Net cooperation (cooperative minus adversarial sentences) per ordered actor pair, as a matrix
    over the most active actors, and a time series per chosen dyad (default: the busiest ones)."""
    net, counts, names = Counter(), Counter(), {}
    for row in rows:
        key = (row["source_id"], row["target_id"])
        names[row["source_id"]], names[row["target_id"]] = row["source_name"], row["target_name"]
        if row["relation"] != "none":
            counts[key] += 1
            net[key] += 1 if row["relation"] == "cooperative" else -1
    activity = Counter()
    for (source, target), n in counts.items():
        activity[source] += n
        activity[target] += n
    actors = [a for a, _ in activity.most_common(top)]
    matrix = [[net[(s, t)] for t in actors] for s in actors]
    chosen = dyads or [pair for pair, _ in counts.most_common(3)]
    series = {}
    for source, target in chosen:
        per_period: dict[str, Counter] = defaultdict(Counter)
        for row in rows:
            period = _period(row.get("date"), granularity)
            if period and (row["source_id"], row["target_id"]) == (source, target):
                per_period[period][row["relation"]] += 1
        series[f"{source}->{target}"] = {p: dict(c) for p, c in sorted(per_period.items())}
    return {"actors": actors, "names": [names.get(a, a) for a in actors], "net_cooperation": matrix,
            "dyads": [{"source": s, "target": t, "source_name": names.get(s, s), "target_name": names.get(t, t),
                       "relations": counts[(s, t)], "net": net[(s, t)]} for (s, t), _ in counts.most_common(top)],
            "series": series}


def report(scored_path: str | Path, output_dir: str | Path | None = None, granularity: str = "month",
           top: int = 20, relations_path: str | Path | None = None,
           dyads: list[tuple[str, str]] | None = None) -> Path:
    scored_path = Path(scored_path)
    if not scored_path.is_file():
        raise InputError(f"scored file not found: {scored_path}")
    rows = load_rows(scored_path)
    if not rows:
        raise InputError(f"{scored_path} holds no scored rows")
    missing = {"doc_id", "sentence_index", "actor_id", "stance", "sentiment"} - set(rows[0])
    if missing:
        raise InputError(f"{scored_path} is not a scored file: columns {sorted(missing)} are missing")
    summary = summarise_rows(rows, granularity, top)
    relations_path = Path(relations_path or default_side_path(str(scored_path), f"relations{scored_path.suffix}"))
    if relations_path.is_file():
        summary["relations"] = summarise_relations(load_rows(relations_path), granularity, top, dyads)
    out = Path(output_dir) if output_dir else scored_path.with_name(scored_path.stem + "_report")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "summary.json", summary)
    target = AtomicFile(out / "summary.html")
    target.temp.write_text(_html(summary, scored_path, top), encoding="utf-8")
    target.commit()
    return out


def _relations_html(page: Page, relations: dict) -> None:
    page.heading("Directed relations")
    if relations["actors"]:
        import numpy as np

        page.figures([("net cooperation", heatmap_png(relations["names"], np.array(relations["net_cooperation"]),
                                                      "net cooperation, source -> target"))])
    page.table(["source", "target", "relations", "net cooperation"],
               [[d["source_name"], d["target_name"], d["relations"], d["net"]] for d in relations["dyads"]])
    for dyad, per_period in relations["series"].items():
        if per_period:
            periods = list(per_period)
            counts = {label: [per_period[p].get(label, 0) for p in periods] for label in ("cooperative", "adversarial")}
            page.figures([(f"{dyad} over time",
                           time_series_png(periods, counts, f"{dyad}: sentences per period", "sentences"))])


def _html(summary: dict, source: Path, top: int) -> str:
    page = Page(f"Scored corpus: {source.name}")
    page.paragraph(f"{summary['rows']} rows from {summary['documents']} documents, "
                   f"{len(summary['actors'])} actors.", muted=True)
    leading = list(summary["actors"].items())[:top]
    if leading:
        labels = [f"{e['name']} ({e['rows']})" for _, e in leading]
        page.figures([
            ("stance by actor", stacked_shares_png(labels, {s: [e["stance_share"][s] for _, e in leading]
                                                            for s in STANCES}, "stance shares, most mentioned actors")),
            ("sentiment by actor", stacked_shares_png(labels, {s: [e["sentiment_share"][s] for _, e in leading]
                                                               for s in SENTIMENTS}, "sentiment shares")),
        ])
    page.heading("Actors")
    page.table(["actor", "name", "rows"] + [f"{s} share" for s in STANCES] + [f"{s} share" for s in SENTIMENTS],
               [[a, e["name"], e["rows"], *[e["stance_share"][s] for s in STANCES],
                 *[e["sentiment_share"][s] for s in SENTIMENTS]] for a, e in summary["actors"].items()])
    if summary["periods"]:
        periods = list(summary["periods"])
        page.heading(f"By {summary['period_granularity']}")
        page.figures([("stance over time", time_series_png(
            periods, {s: [summary["periods"][p]["stance_share"][s] for p in periods] for s in STANCES},
            "stance share per period", "share of rows"))])
        page.table(["period", "rows"] + list(STANCES),
                   [[p, v["rows"], *[v["stance_share"][s] for s in STANCES]] for p, v in summary["periods"].items()])
    for stance, pairs in summary["co_mentions"].items():
        page.heading(f"Actor pairs most often both {stance} in one sentence")
        page.table(["actor", "actor", "sentences"], [[p["names"][0], p["names"][1], p["sentences"]] for p in pairs])
    if "relations" in summary:
        _relations_html(page, summary["relations"])
    return page.render()
