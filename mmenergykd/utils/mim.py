# Copyright (c) mmenergykd contributors. All rights reserved.
"""Make ``mmenergykd::path/to/config.py`` resolve like ``mmpretrain::``."""
from mmengine.config import utils as config_utils

__all__ = ['register_mim_scope']


def register_mim_scope() -> None:
    """Let MMEngine resolve ``mmenergykd::`` config references.

    MMEngine only accepts ``package::`` prefixes listed in its
    ``MODULE2PACKAGE`` table; configs then come from the package's ``.mim``
    directory, which ``setup.py`` fills at install time, as MMPretrain does.
    """
    config_utils.MODULE2PACKAGE.setdefault('mmenergykd', 'mmenergykd')
