# Copyright (c) mmenergykd contributors. All rights reserved.
"""Backbones registered by mmenergykd (the CIFAR model zoo lives here)."""

__all__: list = []
