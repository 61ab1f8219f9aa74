"""`make chaos`: run the failure scenarios in full and print a summary.

    python -m scripts.chaos                      every scenario, full length
    python -m scripts.chaos --short sigterm      the short version of one (as `make test` runs it)

Exit status 1 when any check of any scenario failed, 2 when a needed program is missing.
"""

import argparse
import sys

from scripts.chaos.cluster import Unavailable, server_binaries
from scripts.chaos.scenarios import SCENARIOS, Result, run


def summary(results: list[Result]) -> str:
    """The table `make chaos` prints (and docs/SECURITY.md quotes)."""
    lines = [
        "| scenario | result | requests | statuses | figures | time (of which setup) |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(result.statuses.items()))
        figures = "; ".join(f"{k}: {v}" for k, v in result.figures.items())
        lines.append(
            f"| {result.name} | {'pass' if result.ok else 'FAIL'} | {result.requests} | "
            f"{statuses} | {figures} | {result.seconds:.0f} s ({result.setup_seconds:.0f} s) |"
        )
    return "\n".join(lines)


def main() -> int:
    """Run the scenarios named on the command line (all by default); the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], metavar="SCENARIO")
    parser.add_argument("--short", action="store_true", help="the short versions")
    args = parser.parse_args()
    try:
        server_binaries()
    except Unavailable as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    results = []
    for name in args.scenarios or list(SCENARIOS):
        print(f"{name} ...", file=sys.stderr, flush=True)
        result = run(name, full=not args.short)
        results.append(result)
        verdict = "pass" if result.ok else "FAIL"
        print(f"{name}: {verdict} in {result.seconds:.0f} s", file=sys.stderr, flush=True)
        for failure in result.failures:
            print(f"  - {failure}", file=sys.stderr)
    print(summary(results))
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
