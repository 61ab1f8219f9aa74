"""`make mutation`'s summary: the mutation score of the security code, and the mutants that
survived without being known equivalents.

Reads mutmut's results (`mutmut results --all true`) and the table of equivalent mutants in
docs/TESTING.md (a mutant that changes no behaviour the service can show, with the reason). The
score is killed / (all - equivalent). Exits 1 when the score is under the goal, or when a mutant
listed as equivalent no longer exists (the code moved: the table must be reviewed again).
"""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from app.config import ROOT_DIR

GOAL = 0.95
TESTING_DOC = ROOT_DIR / "docs" / "TESTING.md"
# A table row of the equivalents section: | `app.auth.tokens.x_hash_token__mutmut_12` | why |
_EQUIVALENT_ROW = re.compile(r"^\|\s*`(?P<name>[\w.]+__mutmut_\d+)`\s*\|\s*(?P<why>[^|]+)\|")


def equivalents(path: Path = TESTING_DOC) -> dict[str, str]:
    """The mutants docs/TESTING.md lists as equivalent, with the reason given."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _EQUIVALENT_ROW.match(line)
        if match:
            found[match["name"]] = match["why"].strip()
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


def main() -> int:
    statuses = results()
    if not statuses:
        print("no mutation results: run `make mutation`", file=sys.stderr)
        return 2
    known = equivalents()
    counts = Counter(statuses.values())
    stale = sorted(name for name in known if name not in statuses)
    survivors = sorted(
        name for name, status in statuses.items() if status != "killed" and name not in known
    )
    equivalent = sum(1 for name in known if name in statuses)
    scored = len(statuses) - equivalent
    killed = counts.get("killed", 0)
    score = killed / scored if scored else 1.0
    print(f"mutants: {len(statuses)}  " + "  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print(f"equivalent (docs/TESTING.md): {equivalent}")
    print(
        f"score: {killed}/{scored} = {score:.1%} of non-equivalent mutants killed (goal {GOAL:.0%})"
    )
    pending = counts.get("not checked", 0)
    if pending:
        checked = scored - pending
        print(
            f"incomplete run: {pending} mutants not checked yet (`make mutation` resumes); "
            f"of those checked, {killed}/{checked} = {killed / checked:.1%} killed"
        )
    for name in survivors:
        print(f"  not killed: {name} ({statuses[name]})  -> mutmut show {name}")
    for name in stale:
        print(f"  listed as equivalent but no longer generated: {name}")
    return 0 if score >= GOAL and not stale and not pending else 1


if __name__ == "__main__":
    sys.exit(main())
