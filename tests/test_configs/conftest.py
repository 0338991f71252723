"""Shared by the config tests: slow MMEngine steps made quick."""
import mmengine.config.config as mmengine_config
import mmengine.runner.runner as mmengine_runner
import pytest


def _remember(function):
    """``function`` with its answers (and errors) kept per argument tuple."""
    answers = {}

    def remembered(*args):
        if args not in answers:
            try:
                answers[args] = (True, function(*args))
            except Exception as error:  # noqa: BLE001 - replayed below
                answers[args] = (False, error)
        ok, value = answers[args]
        if not ok:
            raise value
        return value

    return remembered


@pytest.fixture(scope='session', autouse=True)
def fast_mmengine():
    """Three slow parts of MMEngine that no result depends on, made quick.

    - MMEngine re-reads every metafile of a package's model index (and
      reloads ``pkg_resources``) for each ``mmpretrain::`` / ``mmenergykd::``
      reference, about a second each; the answer is the same every time.
    - ``Config.pretty_text`` (logged, and stored in every checkpoint) runs
      yapf over the whole config, about 0.7 s a call; the text is kept, only
      not re-indented.
    - Every Runner logs the environment, running ``gcc --version`` in a
      shell; the answer is the same for the whole session.
    """
    saved = {
        name: getattr(mmengine_config, name)
        for name in ('_get_external_cfg_path', 'is_installed',
                     'get_installed_path', 'FormatCode')
    }
    for name in ('_get_external_cfg_path', 'is_installed',
                 'get_installed_path'):
        setattr(mmengine_config, name, _remember(saved[name]))
    mmengine_config.FormatCode = lambda text, **kwargs: (text, False)
    collect_env = mmengine_runner.collect_env
    mmengine_runner.collect_env = _remember(collect_env)
    yield
    for name, value in saved.items():
        setattr(mmengine_config, name, value)
    mmengine_runner.collect_env = collect_env
