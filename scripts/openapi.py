"""`make openapi`: write the OpenAPI document to docs/openapi.json (`--check`: exit 1 if stale).

The document is built from the code alone, with default settings and no database, so it is the
same on every machine.
"""

import argparse
import json
import sys
from pathlib import Path

from app.config import ROOT_DIR, Settings
from app.main import create_app

OPENAPI_PATH = ROOT_DIR / "docs" / "openapi.json"


def render() -> str:
    """The document as committed: indented, keys in the app's order, one final newline."""
    # model_construct: the defaults, never the environment or a .env file.
    app = create_app(Settings.model_construct(), run_background_tasks=False)
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=OPENAPI_PATH)
    args = parser.parse_args()
    document = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != document:
            print(f"{args.output} is stale: run `make openapi` and commit it", file=sys.stderr)
            sys.exit(1)
        return
    args.output.write_text(document)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
