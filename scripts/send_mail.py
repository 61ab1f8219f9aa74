"""Run the outbox sender alone (the app's lifespan also runs one): `python -m scripts.send_mail`."""

import asyncio

from app.config import load_settings, required_database_url
from app.db import create_engine, session_factory
from app.logging import configure_logging
from app.mail.sender import MailSender


async def run() -> None:
    settings = load_settings()
    configure_logging(settings.json_logs)
    engine = create_engine(
        required_database_url(),
        pool_size=2,
        prepared_statements=settings.database_prepared_statements,
        statement_timeout=settings.database_statement_timeout_seconds,
    )
    try:
        await MailSender(session_factory(engine), settings).run()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
