"""`python -m eval [suite …]` (`make eval`): run the quality evaluations, print their figures,
exit 1 when a figure is under its floor."""

from __future__ import annotations

import argparse
import importlib
import sys

#: The suites, each a module of this package with `evaluate()` and `render(report)`.
SUITES = ("clustering", "content", "agreement")


def chosen(argv: list[str] | None = None) -> tuple[str, ...]:
    """The suites named on the command line, all of them when none is named."""
    ap = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    ap.add_argument("suites", nargs="*", metavar="suite",
                    help=f"one of {', '.join(SUITES)} (default: all)")
    args = ap.parse_args(argv)
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        ap.error(f"unknown suite {unknown[0]!r} (choose from {', '.join(SUITES)})")
    return tuple(args.suites) or SUITES


def main(argv: list[str] | None = None) -> int:
    failed = False
    for name in chosen(argv):
        try:
            module = importlib.import_module(f"eval.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"eval.{name}":
                raise
            print(f"[{name}] not written yet")
            continue
        report = module.evaluate()
        print(module.render(report))
        failed = failed or bool(report.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
