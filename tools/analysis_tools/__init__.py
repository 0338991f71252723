# Copyright (c) mmenergykd contributors. All rights reserved.
"""The code of the benchmarks run by ``tools/benchmark_*.py``.

Each benchmark is a package here; its script in ``tools/`` is a thin entry
point (``python tools/X.py`` puts ``tools/`` on ``sys.path``, so the script
imports these packages by name).
"""

__all__ = []
