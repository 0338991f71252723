# Copyright (c) mmenergykd contributors. All rights reserved.
"""Converters of other projects' checkpoints, used by the scripts in
``tools/`` (e.g. ``tools/convert_mdistiller_ckpt.py``)."""

__all__ = []
