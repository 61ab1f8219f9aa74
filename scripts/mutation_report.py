"""`make mutation`'s summary: the mutation score of the security code, and the mutants that
were not caught without being known equivalents.

Reads mutmut's results (`mutmut results --all true`) and the table of equivalent mutants in
docs/TESTING.md (a mutant that changes no behaviour the service can show, with the reason). The
score is caught / (all - equivalent), where a mutant is caught when a test failed on it, when the
tests never ended on it (a timeout), or when mypy strict refused it (CI type-checks, so it could
never land). Exits 1 when the score is under the goal, while mutants are still unchecked, or when
a mutant listed as equivalent no longer exists (the code moved: the table must be reviewed again).
"""

import argparse
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from app.config import ROOT_DIR

GOAL = 0.95
TESTING_DOC = ROOT_DIR / "docs" / "TESTING.md"
CAUGHT = frozenset({"killed", "timeout", "caught by type check"})
NOT_CHECKED = "not checked"
# A table row of the equivalents section, one or more mutants sharing one reason:
# | `app.auth.tokens.x_hash_token__mutmut_12`, `app.auth.tokens.x_hash_token__mutmut_13` | why |
_EQUIVALENT_ROW = re.compile(
    r"^\|\s*(?P<names>`[\w.ǁ]+__mutmut_\d+`(?:,\s*`[\w.ǁ]+__mutmut_\d+`)*)\s*\|\s*(?P<why>[^|]+)\|"
)
_NAME = re.compile(r"`([\w.ǁ]+__mutmut_\d+)`")


def equivalents(path: Path = TESTING_DOC) -> dict[str, str]:
    """The mutants docs/TESTING.md lists as equivalent, with the reason given."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _EQUIVALENT_ROW.match(line)
        if match:
            for name in _NAME.findall(match["names"]):
                found[name] = match["why"].strip()
    return found


def results() -> dict[str, str]:
    """Every mutant of the last run and its status (killed, survived, timeout, …)."""
    output = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT_DIR,
    ).stdout
    statuses: dict[str, str] = {}
    for line in output.splitlines():
        name, _, status = line.strip().partition(": ")
        if status:
            statuses[name] = status.strip()
    return statuses


@dataclass(frozen=True)
class Summary:
    """The outcome of a run against the list of equivalents."""

    counts: Counter[str]
    caught: int
    scored: int
    equivalent: int
    pending: int
    survivors: list[str]
    stale: list[str]

    @property
    def score(self) -> float:
        """Caught over the mutants that are not equivalent."""
        return self.caught / self.scored if self.scored else 1.0

    @property
    def passed(self) -> bool:
        """The goal is met by a finished run whose list of equivalents is current."""
        return self.score >= GOAL and not self.stale and not self.pending


def summarize(statuses: dict[str, str], known: dict[str, str]) -> Summary:
    """Score the statuses of a run, leaving out the known equivalents."""
    counts = Counter(statuses.values())
    # A listed mutant that is gone, or that a test or mypy now catches, is a different mutant
    # than the one reviewed (the numbering follows the code): the list must be reviewed again.
    listed = {name for name in known if name in statuses and statuses[name] not in CAUGHT}
    equivalent = len(listed)
    return Summary(
        counts=counts,
        caught=sum(1 for name, status in statuses.items() if status in CAUGHT),
        scored=len(statuses) - equivalent,
        equivalent=equivalent,
        pending=counts.get(NOT_CHECKED, 0),
        survivors=sorted(
            name for name, status in statuses.items() if status not in CAUGHT and name not in known
        ),
        stale=sorted(name for name in known if name not in listed),
    )


def report(summary: Summary, statuses: dict[str, str]) -> list[str]:
    """The lines `make mutation` prints."""
    lines = [
        f"mutants: {len(statuses)}  "
        + "  ".join(f"{k}: {v}" for k, v in sorted(summary.counts.items())),
        f"equivalent (docs/TESTING.md): {summary.equivalent}",
        f"score: {summary.caught}/{summary.scored} = {summary.score:.1%} of non-equivalent "
        f"mutants caught (goal {GOAL:.0%})",
    ]
    if summary.pending:
        checked = summary.scored - summary.pending
        lines.append(
            f"incomplete run: {summary.pending} mutants not checked yet (`make mutation` "
            f"resumes); of those checked, {summary.caught}/{checked} = "
            f"{summary.caught / checked if checked else 1.0:.1%} caught"
        )
    lines += [
        f"  not caught: {name} ({statuses[name]})  -> mutmut show {name}"
        for name in summary.survivors
    ]
    lines += [
        f"  listed as equivalent but gone or caught, review the list: {name}"
        for name in summary.stale
    ]
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="The mutation score of the security code, and the mutants not caught."
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="print only the names of the mutants not caught (for `make mutation-retest`)",
    )
    options = parser.parse_args(argv)
    statuses = results()
    if not statuses:
        print("no mutation results: run `make mutation`", file=sys.stderr)
        return 2
    summary = summarize(statuses, equivalents())
    if options.survivors:
        # The names `make mutation-retest` hands back to mutmut, after tests were added.
        print("\n".join(summary.survivors))
        return 0
    print("\n".join(report(summary, statuses)))
    return 0 if summary.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
