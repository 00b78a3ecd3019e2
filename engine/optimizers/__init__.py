"""Shot-frugal training methods: QN-SPSA (qnspsa.py) and shot-adaptive gradients (shot_adaptive.py)."""
