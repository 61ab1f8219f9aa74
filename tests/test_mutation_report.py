"""The mutation report's arithmetic: what counts as caught, what the equivalents remove, and when
the run passes."""

from pathlib import Path

import pytest

from scripts.mutation_report import equivalents, main, report, summarize

A = "app.auth.tokens.x_hash_token__mutmut_"
B = "app.authz.engine.xǁPolicyEngineǁ_stronger_role__mutmut_"


def test_failed_tests_timeouts_and_type_errors_count_as_caught() -> None:
    statuses = {
        A + "1": "killed",
        A + "2": "timeout",
        A + "3": "caught by type check",
        A + "4": "survived",
        A + "5": "no tests",
    }
    summary = summarize(statuses, {})
    assert (summary.caught, summary.scored) == (3, 5)
    assert summary.survivors == [A + "4", A + "5"]
    assert not summary.passed


def test_equivalents_leave_the_score_and_the_survivors() -> None:
    statuses = {f"{A}{n}": "killed" for n in range(19)} | {B + "2": "survived"}
    summary = summarize(statuses, {B + "2": "the probe id"})
    assert (summary.caught, summary.scored, summary.equivalent) == (19, 19, 1)
    assert summary.survivors == []
    assert summary.passed
    assert "score: 19/19 = 100.0%" in report(summary, statuses)[2]


def test_the_goal_is_95_percent_of_a_finished_run_with_a_current_list() -> None:
    caught = {f"{A}{n}": "killed" for n in range(19)}
    assert summarize(caught | {A + "99": "survived"}, {}).passed
    assert not summarize(caught | {A + "98": "survived", A + "99": "survived"}, {}).passed
    statuses = caught | {A + "99": "not checked"}
    unchecked = summarize(statuses, {})
    assert (unchecked.pending, unchecked.passed) == (1, False)
    assert any("incomplete run: 1" in line for line in report(unchecked, statuses))
    stale = summarize(caught, {A + "404": "moved away"})
    assert (stale.stale, stale.passed) == ([A + "404"], False)
    # A listed mutant that is caught now is another mutant than the one reviewed.
    renumbered = summarize(caught, {A + "3": "was a default spelled out"})
    assert (renumbered.stale, renumbered.equivalent, renumbered.scored) == ([A + "3"], 0, 19)


def test_the_equivalents_table_is_read_with_its_reasons(tmp_path: Path) -> None:
    doc = tmp_path / "TESTING.md"
    doc.write_text(
        "| mutant | why |\n|---|---|\n"
        f"| `{B}2` | the probe user's id |\n"
        f"| `{A}27` | PyJWT's default algorithm |\n"
        f"| `{A}30`, `{A}31` | SQL is case-insensitive |\n"
        "| `not a mutant` | ignored |\n"
    )
    assert equivalents(doc) == {
        B + "2": "the probe user's id",
        A + "27": "PyJWT's default algorithm",
        A + "30": "SQL is case-insensitive",
        A + "31": "SQL is case-insensitive",
    }


def test_an_unknown_option_is_refused_before_anything_is_read() -> None:
    with pytest.raises(SystemExit) as refused:
        main(["--survivor-names"])
    assert refused.value.code == 2
