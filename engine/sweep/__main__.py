"""`python -m engine.sweep`: the sweep's worker host (warm once, fork the workers); see engine/sweep/host.py."""

import sys

from .host import main

sys.exit(main())
