"""Production defaults: the image runs in production, production needs a mail server unless
mail to files is asked for, and common passwords are refused unless screening is turned off."""

import re
from pathlib import Path

import pytest

from app.config import Environment, Settings

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "environment": Environment.PRODUCTION,
    "secret_key": "x" * 32,
    "public_url": "https://api.example.com",
}


def runtime_stage(dockerfile: str) -> str:
    return dockerfile.rsplit("FROM ", 1)[1]


class TestImage:
    def test_the_image_runs_in_production(self):
        stage = runtime_stage((ROOT / "Dockerfile").read_text())
        env_block = re.search(r"^ENV (?:.*\\\n)*.*$", stage, re.MULTILINE)
        assert env_block is not None
        assert re.search(r"\bENVIRONMENT=production\b", env_block.group(0))


class TestMailInProduction:
    def test_production_without_smtp_refuses_to_start(self):
        with pytest.raises(ValueError, match="SMTP_HOST"):
            Settings(_env_file=None, **PRODUCTION)

    def test_mail_to_files_must_be_asked_for(self):
        settings = Settings(_env_file=None, mail_to_files=True, **PRODUCTION)
        assert settings.smtp_host is None

    def test_an_smtp_server_is_enough(self):
        assert Settings(_env_file=None, smtp_host="mail.example.com", **PRODUCTION).smtp_host

    def test_development_writes_files_without_being_asked(self):
        assert Settings(_env_file=None, environment=Environment.DEVELOPMENT).smtp_host is None


class TestPasswordScreening:
    def test_screening_is_on_by_default(self):
        assert Settings(_env_file=None).password_screening is True

    async def test_a_common_password_is_refused_at_registration(self, client):
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": "screened@example.com", "password": "password123"},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["type"] == "password_policy"

    async def test_the_contract_length_rule_stays(self, client):
        response = await client.post(
            "/api/v1/auth/register", json={"email": "short@example.com", "password": "x7$kQ2"}
        )
        assert response.status_code == 422
