# Copyright (c) mmenergykd contributors. All rights reserved.
"""A CheckpointHook whose checkpoints survive a kill at any moment."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from mmenergykd.registry import HOOKS
from mmenergykd.utils.atomic_files import (TMP_SUFFIX, atomic_write_text,
                                           fsync_path)

__all__ = ['AtomicCheckpointHook']


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
        tmp = osp.join(self.out_dir, tmp_name)
        fsync_path(tmp)
        os.replace(tmp, final)
        fsync_path(self.out_dir)
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), final)
        if outdated is not None and outdated != step:
            old = osp.join(self.out_dir, self.filename_tmpl.format(outdated))
            if osp.isfile(old):
                os.remove(old)
