#!/usr/bin/env python3
"""Train the moderation model bundle: `python train.py [--corpora DIR] [--out DIR]`.

With no arguments it trains on the project's own corpus (training_data/) alone and writes
the bundle to models/ at the repository root. See `python train.py --help`.
"""

from moderation.training_cli import main

if __name__ == "__main__":
    raise SystemExit(main())
