"""DeiT students with a distillation token: the recipe the configs declare,
two iterations under MMPretrain's own tools/train.py with the distillation
head trained by the distill loss, and the exported student in a process
that imports only MMPretrain."""
import json
import os.path as osp
import subprocess
import sys
import textwrap

import mmpretrain
import pytest
import torch
from mmengine.config import Config

from mmenergykd.apis import export_student
from tests.helpers import CONFIGS, make_imagenet_folder
from tests.test_configs.mmpretrain_launcher import train_like_mmpretrain

TINY = osp.join(CONFIGS, 'deit',
                'deit_convnext-small_deit-tiny_4xb256_300e_in1k.py')
MMPRETRAIN_DEIT = osp.join(
    osp.dirname(mmpretrain.__file__), '.mim', 'configs', 'deit',
    'deit-tiny-distilled_4xb256_in1k.py')


@pytest.mark.parametrize('size', ['tiny', 'small'])
def test_deit_recipe(size):
    hard = Config.fromfile(
        osp.join(CONFIGS, 'deit',
                 f'deit_convnext-small_deit-{size}_4xb256_300e_in1k.py'))
    energy = Config.fromfile(
        osp.join(CONFIGS, 'energykd',
                 f'energykd_convnext-small_deit-{size}_4xb256_300e_in1k.py'))
    for cfg in (hard, energy):
        assert cfg.model.student == \
            f'mmpretrain::deit/deit-{size}-distilled_4xb256_in1k.py'
        # a model-index name: config and published weights from the name
        assert cfg.model.teacher == 'convnext-small_32xb128_in1k'
        assert 'teacher_ckpt' not in cfg.model
        assert cfg.model.student_loss_weight == 0.5
        assert cfg.train_cfg.max_epochs == 300
        assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
        assert cfg.train_dataloader.batch_size * 4 == 1024 == \
            cfg.auto_scale_lr.base_batch_size
        assert cfg.optim_wrapper.optimizer.type == 'AdamW'
        assert cfg.optim_wrapper.clip_grad.max_norm == 5.0
        assert [(a.type, a.alpha)
                for a in cfg.data_preprocessor.batch_augments.augments
                ] == [('Mixup', 0.8), ('CutMix', 1.0)]
        assert cfg.train_dataloader.persistent_workers is False
    loss = hard.model.distill_losses.loss_hard
    assert (loss.type, loss.loss_weight, loss.student_head) == \
        ('HardDistillLoss', 0.5, 'dist')
    loss = energy.model.distill_losses.loss_energykd
    assert (loss.type, loss.loss_weight, loss.student_head) == \
        ('EnergyKDLoss', 0.5, 'dist')
    assert any(h.type == 'EnergyCalibrationHook' for h in energy.custom_hooks)


PLAIN = textwrap.dedent('''
    import json, sys
    import torch
    from mmengine.config import Config
    from mmpretrain import get_model
    from mmpretrain.registry import MODELS
    from mmengine.registry import DefaultScope

    config, weights, inputs, out = sys.argv[1:5]
    state = torch.load(weights, weights_only=True)['state_dict']
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(Config.fromfile(config).model)
    keys = sorted(model.state_dict())
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.load(inputs, weights_only=True)
    with torch.no_grad():
        direct = model(x, mode='tensor')
        # the user's way: MMPretrain's get_model with the exported file
        zoo = get_model(config, pretrained=weights)
        via_get_model = zoo(x, mode='tensor')
    json.dump(dict(
        keys_equal=keys == sorted(state),
        mmenergykd_imported=any(
            m.split('.')[0] == 'mmenergykd' for m in sys.modules),
        direct=direct.tolist(), get_model=via_get_model.tolist()),
        open(out, 'w'))
''')


def test_deit_config_trains_under_mmpretrain_and_exports(tmp_path):
    torch.set_num_threads(1)
    data = dict(
        imagenet=make_imagenet_folder(
            str(tmp_path / 'imagenet'), num_train=4, num_val=2))
    work_dir = str(tmp_path / 'deit')
    _, cfg, runner = train_like_mmpretrain(TINY, work_dir, data)
    assert runner.iter == 2
    hub = runner.message_hub
    assert torch.isfinite(
        torch.tensor(hub.get_scalar('train/loss_hard').current()))
    model = runner.model
    layers = model.student.head.layers
    # the distillation head learns from the distill loss, the class head
    # from the labels
    batch = next(iter(runner.train_dataloader))
    batch = model.data_preprocessor(batch, True)
    model.zero_grad()
    model(**batch, mode='loss')['loss_hard'].backward()
    assert layers.head_dist.weight.grad.abs().sum() > 0
    assert layers.head.weight.grad is None \
        or layers.head.weight.grad.abs().sum() == 0
    # exported: a plain MMPretrain checkpoint of its own deit config
    out = str(tmp_path / 'student.pth')
    export_student(TINY, osp.join(work_dir, 'epoch_1.pth'), out)
    model.eval()
    val = model.data_preprocessor(next(iter(runner.val_dataloader)), False)
    inputs = val['inputs']
    torch.save(inputs, str(tmp_path / 'inputs.pth'))
    with torch.no_grad():
        trained = model(inputs, mode='tensor')
        predicted = model(inputs, val['data_samples'], mode='predict')
    result = str(tmp_path / 'result.json')
    subprocess.run([
        sys.executable, '-c', PLAIN, MMPRETRAIN_DEIT, out,
        str(tmp_path / 'inputs.pth'), result
    ],
                   check=True,
                   cwd=str(tmp_path))
    plain = json.load(open(result))
    assert plain['keys_equal'] and not plain['mmenergykd_imported']
    torch.testing.assert_close(torch.tensor(plain['direct']), trained)
    torch.testing.assert_close(torch.tensor(plain['get_model']), trained)
    # the run's prediction: the average of both heads, as exported
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in predicted]), trained.softmax(1))
