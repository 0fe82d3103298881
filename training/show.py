"""Print scored rows as a short table: `python -m training.show SCORED_FILE [--limit N]`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyarrow.parquet as pq


def load_rows(path: str | Path, limit: int | None = None) -> list[dict]:
    path = Path(path)
    if path.suffix == ".parquet":
        rows = pq.read_table(path).to_pylist()
    elif path.suffix == ".csv":
        import csv

        rows = [{k: _maybe_json(v) for k, v in r.items()} for r in csv.DictReader(open(path, encoding="utf-8"))]
    else:
        rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    return rows[:limit] if limit else rows


def _maybe_json(value: str):
    try:
        return json.loads(value) if value[:1] in "[{" else value
    except json.JSONDecodeError:
        return value


def render(rows: list[dict], width: int = 60) -> str:
    header = f"{'doc':<14} {'s#':>3}  {'actor':<16} {'stance':<12} {'p':>4}  {'sentiment':<9} {'p':>4}  sentence"
    lines = [header, "-" * len(header)]
    for row in rows:
        sentence = row["sentence"] if len(row["sentence"]) <= width else row["sentence"][: width - 1] + "…"
        lines.append(
            f"{str(row['doc_id'])[:14]:<14} {row['sentence_index']:>3}  {row['actor_name'][:16]:<16} "
            f"{row['stance']:<12} {row['stance_probs'][row['stance']]:.2f}  "
            f"{row['sentiment']:<9} {row['sentiment_probs'][row['sentiment']]:.2f}  {sentence}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--limit", type=int, default=25)
    args = parser.parse_args()
    print(render(load_rows(args.path, args.limit)))


if __name__ == "__main__":
    main()
