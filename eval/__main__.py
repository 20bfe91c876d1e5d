"""`python -m eval [suite …]` (`make eval`): run the quality evaluations, print their figures,
exit 1 when a figure is under its floor."""

from __future__ import annotations

import argparse
import importlib
import sys

#: The suites, each a module of this package with `evaluate()` and `render(report)`.
SUITES = ("clustering", "content", "agreement")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The suites named on the command line (`suites`; all of them when none is named) and
    the clustering's in-process embedding model."""
    ap = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    ap.add_argument("suites", nargs="*", metavar="suite",
                    help=f"one of {', '.join(SUITES)} (default: all)")
    ap.add_argument("--embedding-model", default=None, metavar="MODEL",
                    help="clustering: the in-process embedding model, a directory or a name "
                         "(default all-MiniLM-L6-v2, the one with floors)")
    args = ap.parse_args(argv)
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        ap.error(f"unknown suite {unknown[0]!r} (choose from {', '.join(SUITES)})")
    args.suites = tuple(args.suites) or SUITES
    return args


def chosen(argv: list[str] | None = None) -> tuple[str, ...]:
    """The suites named on the command line, all of them when none is named."""
    suites: tuple[str, ...] = parse(argv).suites
    return suites


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    failed = False
    for name in args.suites:
        try:
            module = importlib.import_module(f"eval.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"eval.{name}":
                raise
            print(f"[{name}] not written yet")
            continue
        report = module.evaluate(model=args.embedding_model) \
            if name == "clustering" and args.embedding_model else module.evaluate()
        print(module.render(report))
        failed = failed or bool(report.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
