# Copyright (c) mmenergykd contributors. All rights reserved.
"""Crash-safe file writes: temporary file, flush, rename."""
import os
import os.path as osp

__all__ = ['TMP_SUFFIX', 'atomic_write_text', 'fsync_path']

TMP_SUFFIX = '.tmp'


def fsync_path(path: str) -> None:
    """Flush a file (or a directory entry) to disk, where the OS allows."""
    flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) * osp.isdir(path)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file + ``os.replace``.

    A reader sees the old content or the new one, never a partial file.
    """
    folder, name = osp.split(osp.abspath(path))
    tmp = osp.join(folder, f'.{name}.{os.getpid()}{TMP_SUFFIX}')
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_path(folder)
