# Copyright (c) mmenergykd contributors. All rights reserved.
"""A CheckpointHook whose checkpoints survive a kill at any moment."""
import errno
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from mmenergykd.engine.runtime import (is_complete_checkpoint,
                                       last_complete_checkpoint)
from mmenergykd.registry import HOOKS
from mmenergykd.utils.atomic_files import (TMP_SUFFIX, atomic_write_text,
                                           fsync_path)

__all__ = ['AtomicCheckpointHook', 'CheckpointWriteError']


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (its ``errno`` is the cause's)."""


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` with crash-safe saving.

    Same arguments and behaviour as :class:`mmengine.hooks.CheckpointHook`,
    with three changes for local ``out_dir`` s (other storage backends fall
    back to the parent's behaviour):

    1. The checkpoint is written to a hidden temporary file
       (``.epoch_3.pth.<pid>.tmp``), flushed to disk and renamed to its final
       name with ``os.replace``. A process killed while saving leaves only
       the temporary file; no truncated ``epoch_*.pth`` / ``iter_*.pth``
       ever exists.
    2. ``work_dir/last_checkpoint`` (what ``--resume`` reads) is updated the
       same way, only after the checkpoint is complete.
    3. With ``max_keep_ckpts``, outdated checkpoints are removed only after
       the new one is complete (MMEngine removes them first, so a kill while
       saving could leave ``last_checkpoint`` pointing at a deleted file).

    Leftover temporary files of a killed run are removed before training.
    A save that fails (a full disk: ``OSError`` errno 28) removes its
    temporary file and raises :class:`CheckpointWriteError` naming the
    checkpoint being written and the last complete one.

    Example:
        >>> default_hooks = dict(checkpoint=dict(
        ...     type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3))
    """

    def _is_local(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._is_local() and is_main_process():
            pattern = f'.*{TMP_SUFFIX}'
            for path in glob.glob(osp.join(self.out_dir, pattern)) + \
                    glob.glob(osp.join(runner.work_dir, pattern)):
                try:
                    os.remove(path)
                except OSError:
                    pass

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._is_local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids[0]
            self.keep_ckpt_ids.append(step)  # a bounded deque
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        final = self.file_backend.join_path(self.out_dir, ckpt_filename)
        self.last_ckpt = final
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        tmp_name = f'.{ckpt_filename}.{os.getpid()}{TMP_SUFFIX}'
        tmp = osp.join(self.out_dir, tmp_name)
        try:
            self._write(runner, tmp_name, tmp, final, meta)
        except OSError as err:
            if osp.isfile(tmp):  # frees the space the partial file took
                os.remove(tmp)
            raise CheckpointWriteError(err.errno,
                                       self._write_error(runner, final,
                                                         err)) from err
        if is_main_process() and outdated is not None and outdated != step:
            old = osp.join(self.out_dir, self.filename_tmpl.format(outdated))
            if osp.isfile(old):
                os.remove(old)

    def _write(self, runner, tmp_name: str, tmp: str, final: str,
               meta) -> None:
        """Write the checkpoint to ``tmp``, rename it, then point
        ``last_checkpoint`` at it."""
        # Runner.save_checkpoint writes on the main process only.
        runner.save_checkpoint(
            self.out_dir,
            tmp_name,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        fsync_path(tmp)
        os.replace(tmp, final)
        fsync_path(self.out_dir)
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), final)

    def _write_error(self, runner, final: str, err: OSError) -> str:
        """The message of a failed save: the file, why, what is left."""
        last = last_complete_checkpoint(runner.work_dir)
        if osp.isfile(final) and is_complete_checkpoint(final):
            left = (f'{final} itself was written; only '
                    f'{osp.join(runner.work_dir, "last_checkpoint")} could '
                    'not be updated')
        elif last:
            left = (f'The last complete checkpoint is {last}; `--resume` '
                    'continues from it')
        else:
            left = 'No complete checkpoint was written before it'
        cause = err.strerror or str(err)
        if err.errno == errno.ENOSPC:
            cause += (f' on the disk holding {self.out_dir}: free space (or '
                      'keep fewer checkpoints: '
                      '`default_hooks.checkpoint.max_keep_ckpts`, or save '
                      'elsewhere: `default_hooks.checkpoint.out_dir`)')
        return f'Could not write the checkpoint {final}: {cause}. {left}.'
