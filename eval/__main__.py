"""`python -m eval [suite …]` (`make eval`): run the quality evaluations, print their figures,
exit 1 when a figure is under its floor."""

from __future__ import annotations

import argparse
import importlib
import sys

#: The suites, each a module of this package with `evaluate()` and `render(report)`.
SUITES = ("clustering", "content")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    ap.add_argument("suites", nargs="*", default=list(SUITES), choices=SUITES)
    args = ap.parse_args(argv)
    failed = False
    for name in args.suites:
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
