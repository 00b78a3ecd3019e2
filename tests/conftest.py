"""Shared fixtures. Circuit helpers used by several test modules live in tests/helpers.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
