#!/usr/bin/env python3
"""Run the moderation service: `python serve.py [--host] [--port] [--model DIR] [--database URL]`.

With no arguments it serves on 127.0.0.1:8000 with the bundle in models/ and a SQLite file
(moderation.db) in the working directory, migrating it first. See `python serve.py --help`.
"""

from moderation.web.server import main

if __name__ == "__main__":
    raise SystemExit(main())
