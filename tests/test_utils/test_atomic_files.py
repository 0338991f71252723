import os

from mmenergykd.utils.atomic_files import (TMP_SUFFIX, atomic_write_text,
                                           fsync_path)


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / 'last_checkpoint'
    atomic_write_text(str(path), 'first')
    atomic_write_text(str(path), 'second')
    assert path.read_text() == 'second'
    assert not [n for n in os.listdir(tmp_path) if n.endswith(TMP_SUFFIX)]


def test_fsync_path_tolerates_missing_paths(tmp_path):
    fsync_path(str(tmp_path))
    fsync_path(str(tmp_path / 'missing'))  # no error
