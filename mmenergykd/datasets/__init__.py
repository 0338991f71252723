# Copyright (c) mmenergykd contributors. All rights reserved.
"""Datasets registered by mmenergykd."""

__all__: list = []
