"""Print the service's OpenAPI document: ``python -m moderation.web.openapi > docs/openapi.json``.

The committed docs/openapi.json is what the publishing system's developers read and what
client generators use; tests/test_openapi.py fails when it differs from the app's own
document, so it cannot drift. Building the app needs neither a model nor a database.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from moderation.web.app import create_app


def document() -> dict[str, Any]:
    return create_app().openapi()


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
