# Copyright (c) mmenergykd contributors. All rights reserved.
"""SIGTERM and SIGINT leave a line in the run's log before the run ends.

A run stopped by a scheduler (SIGTERM) or by Ctrl-C (SIGINT) used to leave
no trace in its log. While :func:`log_stop_signals` is active, either
signal writes one line, where the run stopped, the last complete checkpoint
and the command that resumes it, then ends the run as before: SIGINT raises
``KeyboardInterrupt``, SIGTERM exits with status 143 (128 + 15). A second
signal acts at once. Processes forked meanwhile (dataloader workers) keep
the previous behaviour.
"""
import contextlib
import os
import signal
import threading
from typing import Any, Iterator

from mmengine.dist import get_world_size

from .runtime import last_complete_checkpoint, resume_command

__all__ = ['log_stop_signals', 'stop_line']

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _where(runner: Any, loop: Any) -> str:
    epoch, it = runner.epoch, runner.iter
    try:
        per_epoch = len(loop.dataloader)
    except (AttributeError, TypeError):
        per_epoch = 0
    max_epochs = getattr(loop, 'max_epochs', '?')
    if it == 0:
        return 'before the first training step'
    done = it - epoch * per_epoch if per_epoch else 0
    if done <= 0:
        return f'after epoch {epoch} of {max_epochs} (iteration {it})'
    return (f'in epoch {epoch + 1} of {max_epochs} after {done} of its '
            f'{per_epoch} iterations (iteration {it})')


def stop_line(runner: Any, loop: Any, signum: int) -> str:
    """The log line of a run stopped by ``signum``.

    Args:
        runner: The runner.
        loop: Its train loop.
        signum (int): The signal.

    Returns:
        str: One line.
    """
    checkpoint = last_complete_checkpoint(runner.work_dir)
    saved = f'the last complete checkpoint is {checkpoint}' if checkpoint \
        else 'no checkpoint was written yet'
    command = resume_command(
        getattr(runner.cfg, 'filename', None), runner.work_dir,
        get_world_size())
    return (f'Stopped by {signal.Signals(signum).name} '
            f'{_where(runner, loop)}; {saved}. Resume with: {command}')


def _previous_behaviour(signum: int, frame: Any, previous: Any) -> None:
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


@contextlib.contextmanager
def log_stop_signals(runner: Any, loop: Any) -> Iterator[None]:
    """Log SIGTERM / SIGINT (see the module) while the block runs.

    Args:
        runner: The runner (its logger writes the line).
        loop: Its train loop (epoch length, max epochs).

    Yields:
        None
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set in the main thread
        return
    owner = os.getpid()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != owner:  # a forked dataloader worker
            _previous_behaviour(signum, frame, previous[signum])
            return
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        runner.logger.warning(stop_line(runner, loop, signum))
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, old if old is not None else signal.SIG_DFL)
