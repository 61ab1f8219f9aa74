"""What the benchmarks share: random ids, a progress bar, scratch databases, COPY, percentiles."""

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Sequence
from math import ceil

import psycopg

from app.db import libpq_url

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
COPY_BATCH = 20_000

# bytes.translate tables that set the UUID version (4) and variant (RFC 4122) bits in bulk.
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT_RFC = bytes((b & 0x3F) | 0x80 for b in range(256))


def random_ids(count: int) -> bytes:
    """`count` random version-4 UUIDs packed as 16 bytes each.

    Packed bytes rather than UUID objects: a million UUID objects cost ~100 MB in this process,
    and the ids must be random (as `uuid4()` makes them) so the indexes are as scattered as in
    production.
    """
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT_RFC)
    return bytes(raw)


class Progress:
    """A one-line progress bar on stderr, redrawn at most every 0.1 s."""

    WIDTH = 30

    def __init__(self, total: int, label: str) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self.started = time.perf_counter()
        self._drawn = 0.0

    def advance(self, count: int, note: str = "") -> None:
        """Count `count` more rows done and redraw if due."""
        self.done += count
        now = time.perf_counter()
        if now - self._drawn >= 0.1 or self.done >= self.total:
            self._drawn = now
            self._draw(note)

    def _draw(self, note: str) -> None:
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        sys.stderr.write(
            f"\r  {self.label} [{bar}] {share:6.1%} {self.done:,}/{self.total:,} rows "
            f"{elapsed:6.1f} s {rate:,.0f} rows/s {note:<26}"
        )
        sys.stderr.flush()

    def finish(self) -> None:
        """Draw the final state and end the line."""
        self._draw("done")
        sys.stderr.write("\n")
        sys.stderr.flush()


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of `values` (share in 0..1)."""
    ordered = sorted(values)
    rank = max(1, ceil(share * len(ordered)))
    return ordered[rank - 1]


def hex_id(ids: bytes, i: int) -> str:
    """The i-th id of packed `ids` as 32 hex digits (PostgreSQL's uuid input takes them bare)."""
    return ids[16 * i : 16 * i + 16].hex()


Copy = tuple[str, str, Iterable[str]]
"""(label, COPY ... FROM STDIN statement, text lines)."""


def copy_rows(url: str, copies: Sequence[Copy], total_rows: int) -> float:
    """COPY every line into the database with a progress bar, then VACUUM ANALYZE and CHECKPOINT.

    Returns the seconds taken.
    """
    started = time.perf_counter()
    progress = Progress(total_rows, "COPY")
    with psycopg.connect(libpq_url(url)) as connection:
        # A benchmark load need not survive a server crash, so commits need not wait for the disk.
        connection.execute("SET synchronous_commit TO off")
        for label, statement, lines in copies:
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                batch: list[str] = []
                for line in lines:
                    batch.append(line)
                    if len(batch) >= COPY_BATCH:
                        copy.write("".join(batch))
                        progress.advance(len(batch), label)
                        batch.clear()
                if batch:
                    copy.write("".join(batch))
                    progress.advance(len(batch), label)
            connection.commit()
    progress.finish()
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        # Planner statistics and the visibility map, as a database in service would have them;
        # without ANALYZE the plans at 1e6 rows would be guesses.
        connection.execute("VACUUM ANALYZE")
        # Flush the load now, so a checkpoint does not land in the middle of the measurements.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            connection.execute("CHECKPOINT")
    return time.perf_counter() - started
