"""`python -m engine.sweep`: one sweep worker process (its job as JSON on stdin); see engine/sweep/worker.py."""

import sys

from .worker import main

sys.exit(main())
