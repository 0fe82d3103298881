"""`actorstance` command line: parses paths and overrides, then calls plain functions that tests call too."""

from __future__ import annotations

import argparse
import json
import sys

from inference.config import EvaluateConfig, ScoreConfig, TrainConfig, load_config
from inference.errors import ActorstanceError


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML config file")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config key, value read as YAML (e.g. --set training.epochs=3); repeatable",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actorstance", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    _add_config_args(verbs.add_parser("train", help="fine-tune a model bundle from a train config"))
    score = verbs.add_parser("score", help="score documents with a model bundle")
    _add_config_args(score)
    score.add_argument(
        "--overwrite", action="store_true",
        help="sharded output: discard the shards of a run with another input, model or config instead of refusing",
    )
    evaluate = verbs.add_parser("evaluate", help="evaluate a model bundle on labelled sets")
    _add_config_args(evaluate)
    evaluate.add_argument("--compare", metavar="OTHER_BUNDLE", help="evaluate a second bundle side by side")
    export = verbs.add_parser("export", help="export a model bundle to ONNX for the onnx scoring backends")
    export.add_argument("bundle", help="model bundle directory")
    export.add_argument("--int8", action="store_true", help="also write the int8 model (backend onnx-int8)")
    export.add_argument("--openvino", action="store_true",
                        help="also write the OpenVINO int8 model (backend openvino-int8; needs openvino and nncf)")
    report = verbs.add_parser("report", help="summarise a scored file: actors, periods, co-mentions")
    report.add_argument("scored", help="scored rows (.jsonl, .parquet or .csv)")
    report.add_argument("--out", help="report directory (default: next to the scored file)")
    report.add_argument("--period", choices=["month", "year"], default="month")
    report.add_argument("--top", type=int, default=20, help="actors and pairs shown")
    report.add_argument("--relations", help="relations table (default: <scored stem>.relations.<ext> if present)")
    report.add_argument("--dyad", action="append", default=[], metavar="SOURCE,TARGET",
                        help="actor ids of a dyad to chart over time; repeatable (default: the busiest three)")
    data = verbs.add_parser("data", help="labelled-data tools").add_subparsers(dest="data_verb", required=True)
    check = data.add_parser("check", help="validate labelled pair files or a corpus directory")
    check.add_argument("paths", nargs="+", help="JSONL files or directories")
    check.add_argument(
        "--actors", action="append", default=None, help="actor dictionary paths (default configs/actors)"
    )
    build = data.add_parser("build", help="build data/corpus pair files from the raw annotated documents")
    build.add_argument("--raw", default="data/corpus/raw", help="directory of raw annotated documents")
    build.add_argument("--out", default="data/corpus", help="directory for the split pair files")
    return parser


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.verb == "train":
        config = load_config(args.config, TrainConfig, args.overrides)
        from .trainer import train

        path = train(config, show_progress=not args.quiet)
        print(f"model bundle written to {path}")
    elif args.verb == "score":
        config = load_config(args.config, ScoreConfig, args.overrides)
        from inference.score import score

        summary = score(config, show_progress=not args.quiet, overwrite=args.overwrite)
        print(json.dumps(summary.to_dict(), indent=2))
    elif args.verb == "evaluate":
        config = load_config(args.config, EvaluateConfig, args.overrides)
        from .evaluate import evaluate

        out = evaluate(config, compare=args.compare, show_progress=not args.quiet)
        print(f"evaluation report written to {out}")
    elif args.verb == "export":
        from inference.onnx_backend import EXPORT_JSON, export_onnx

        path = export_onnx(args.bundle, quantized=args.int8, openvino=args.openvino)
        print(f"model written to {path}; label agreement with torch in {path.parent / EXPORT_JSON}")
    elif args.verb == "report":
        from .summarise import report

        dyads = [tuple(d.split(",", 1)) for d in args.dyad]
        out = report(args.scored, args.out, args.period, args.top, args.relations, dyads or None)
        print(f"corpus report written to {out}")
    elif args.verb == "data":
        from . import corpus

        if args.data_verb == "check":
            report = corpus.check(args.paths, actor_paths=args.actors or ["configs/actors"])
            print(report.render())
            return 0 if report.ok else 1
        counts = corpus.build(args.raw, args.out)
        print(json.dumps(counts, indent=2))
    return 0


def main(argv: list[str] | None = None) -> None:
    try:
        code = run(sys.argv[1:] if argv is None else argv)
    except ActorstanceError as err:
        print(f"actorstance: error: {err}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("actorstance: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
