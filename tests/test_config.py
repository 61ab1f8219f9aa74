"""Settings: validated at start-up with the variable named, and documented three times alike
(the Settings class, the README's table, `.env.example`)."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config import ROOT_DIR, Settings, load_settings

ENV_EXAMPLE = ROOT_DIR / ".env.example"
README = ROOT_DIR / "README.md"
SETTING_NAMES = {name.upper() for name in Settings.model_fields}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the environment, and no `.env` in the working directory."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


class TestValidation:
    @pytest.mark.parametrize(
        ("variable", "value", "reason"),
        [
            ("PUBLIC_URL", "not-a-url", "is not an http(s) URL"),
            ("FRONTEND_URL", "ftp://files.example.com", "is not an http(s) URL"),
            ("DATABASE_URL", "mysql://root:secret@db.example.com/blokid", "is not PostgreSQL"),
            ("DATABASE_URL", "not a url", "is not a database URL"),
            ("REDIS_URL", "http://cache.example.com", "is not a Redis URL"),
            ("EMAILS_FROM", "nonsense", "is not a sender address"),
            ("EMAILS_FROM", "BlokID <no-reply@>", "is not a sender address"),
            ("PORT", "eighty", "valid integer"),
        ],
    )
    def test_a_bad_value_stops_start_up_naming_the_variable(
        self, clean_environment, monkeypatch, variable, value, reason
    ):
        monkeypatch.setenv(variable, value)
        with pytest.raises(SystemExit) as stopped:
            load_settings()
        message = str(stopped.value)
        assert f"{variable}: " in message
        assert reason in message

    def test_a_database_password_is_not_repeated_in_the_message(
        self, clean_environment, monkeypatch
    ):
        monkeypatch.setenv("DATABASE_URL", "mysql://root:hunter2-secret@db.example.com/blokid")
        with pytest.raises(SystemExit) as stopped:
            load_settings()
        assert "hunter2-secret" not in str(stopped.value)

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/blokid"),
            ("DATABASE_URL", "postgresql+asyncpg://u:p@db/blokid?sslmode=require"),
            ("REDIS_URL", "rediss://:secret@cache.example.com:6380/0"),
            ("PUBLIC_URL", "https://api.example.com/base"),
            ("EMAILS_FROM", "Support <support@example.com>"),
            ("EMAILS_FROM", "no-reply@localhost"),
        ],
    )
    def test_good_values_are_kept_as_written(self, clean_environment, monkeypatch, variable, value):
        monkeypatch.setenv(variable, value)
        assert getattr(load_settings(), variable.lower()) == value

    @pytest.mark.parametrize("variable", ["REDIS_URL", "DATABASE_URL", "SMTP_HOST", "PUBLIC_URL"])
    def test_an_empty_variable_is_unset(self, clean_environment, monkeypatch, variable):
        monkeypatch.setenv(variable, "")
        assert getattr(load_settings(), variable.lower()) is None

    def test_the_service_refuses_to_start_on_a_bad_value(self, tmp_path):
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in SETTING_NAMES and key != "PYTHONPATH"
        }
        env["PUBLIC_URL"] = "not-a-url"
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path.insert(0, {str(ROOT_DIR)!r}); " "import app.main",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode != 0
        assert "Invalid configuration: PUBLIC_URL: 'not-a-url' is not an http(s) URL" in (
            result.stderr
        )


def _env_example() -> tuple[dict[str, str], dict[str, str]]:
    """(active NAME=value lines, commented `# NAME=value` lines) of .env.example; also checks
    that a comment line stands right above each."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    lines = ENV_EXAMPLE.read_text().splitlines()
    variable = re.compile(r"^(# )?([A-Z][A-Z0-9_]*)=(.*)$")
    for number, line in enumerate(lines):
        match = variable.match(line)
        if not match:
            continue
        name = match.group(2)
        above = lines[number - 1]
        assert above.startswith("# "), f".env.example line {number + 1}: {name} has no comment"
        assert not variable.match(above), f".env.example line {number + 1}: {name} has no comment"
        assert name not in active, f"{name} twice in .env.example"
        assert name not in commented, f"{name} twice in .env.example"
        target = commented if match.group(1) else active
        target[match.group(2)] = match.group(3).strip('"')
    return active, commented


def _readme_rows() -> list[tuple[list[str], str]]:
    """(the names, the default cell) of each row of the README's configuration table."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names_cell, default_cell = (cell.strip() for cell in line.strip("|").split("|")[:2])
            rows.append((re.findall(r"`([A-Z][A-Z0-9_]*)`", names_cell), default_cell))
    return rows


def _readme_defaults(names: list[str], cell: str) -> dict[str, Any] | None:
    """The defaults a cell states, when it states them as values (`10`, unset, …), per name."""
    tokens = cell.split(", ")
    values: list[Any] = []
    for token in tokens:
        if token == "unset":
            values.append(None)
        elif re.fullmatch(r"`[^`]*`", token):
            values.append(token.strip("`"))
        else:
            return None
    if len(values) == 1:
        values = values * len(names)
    assert len(values) == len(names), (names, cell)
    return dict(zip(names, values, strict=True))


def _as_env(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    return None if value is None else str(value)


class TestDocumentedSettings:
    def test_the_example_the_readme_and_the_class_name_the_same_settings(self):
        active, commented = _env_example()
        assert set(active) | set(commented) == SETTING_NAMES
        assert {name for names, _ in _readme_rows() for name in names} == SETTING_NAMES

    def test_the_example_holds_the_defaults(self, clean_environment):
        _, commented = _env_example()
        # Every active line holds the default: read as settings, the file changes nothing.
        defaults = Settings(_env_file=None).model_dump()  # type: ignore[call-arg]
        from_example = Settings(_env_file=ENV_EXAMPLE).model_dump()  # type: ignore[call-arg]
        assert from_example == defaults
        for name in commented:
            assert defaults[name.lower()] is None, f"{name} has a default: uncomment it"

    def test_the_commented_examples_are_valid_values(self, clean_environment):
        _, commented = _env_example()
        for name, value in commented.items():
            if value:
                Settings(_env_file=None, **{name.lower(): value})  # type: ignore[call-arg]

    def test_the_readme_states_the_defaults_of_the_class(self):
        checked = 0
        for names, cell in _readme_rows():
            stated = _readme_defaults(names, cell)
            if stated is None:  # a default described in words ("JSON in production")
                continue
            for name, value in stated.items():
                checked += 1
                assert value == _as_env(Settings.model_fields[name.lower()].default), name
        assert checked >= 30

    def test_the_example_shows_how_to_make_a_secret_key(self):
        command = re.search(r"^#\s+(python3 -c .*)$", ENV_EXAMPLE.read_text(), re.MULTILINE)
        assert command is not None
        result = subprocess.run(
            ["/bin/sh", "-c", command.group(1)], capture_output=True, text=True, check=True
        )
        assert len(result.stdout.strip().encode()) >= 32
