"""The calibration pass as a function of model, dataloader and seed."""
import torch
from mmengine.dataset import DefaultSampler, pseudo_collate
from torch.utils.data import DataLoader

from mmenergykd.engine import calibrate_energy, teacher_energies
from tests.helpers import build_model, random_batch, tiny_distiller_cfg


class _Batches(torch.utils.data.Dataset):
    """Ten fixed samples in the layout a dataloader yields."""

    def __init__(self):
        batch = random_batch(num=10, seed=3)
        self.items = [
            dict(inputs=i, data_samples=s)
            for i, s in zip(batch['inputs'], batch['data_samples'])
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        return self.items[idx]


def _loader(batch_size=4):
    data = _Batches()
    return DataLoader(
        data,
        batch_size=batch_size,
        sampler=DefaultSampler(data, shuffle=False),
        collate_fn=pseudo_collate)


def test_thresholds_follow_the_sorted_index_rule_without_a_runner():
    model = build_model(tiny_distiller_cfg(None))
    loader = _loader()
    summary = calibrate_energy(model, loader, seed=0)
    # the last partial batch (2 of 10 samples) is dropped, as the release
    assert summary['num_samples'] == 8
    # independent computation: the teacher's energies of the first 8
    with torch.no_grad():
        data = model.data_preprocessor(
            pseudo_collate([loader.dataset[i] for i in range(8)]), False)
        logits = model.teacher.head(model.teacher.extract_feat(data['inputs']))
    energies = sorted((-4.0 * torch.logsumexp(logits / 4.0, 1)).tolist())
    low, high = summary['thresholds']['loss_energykd']
    assert low == torch.tensor(energies[int(8 * 0.2)]).item()
    assert high == torch.tensor(energies[8 - int(8 * 0.2) - 1]).item()
    loss = model.distill_losses['loss_energykd']
    assert loss.is_calibrated and loss.low_threshold.item() == low


def test_energies_do_not_change_the_global_random_stream():
    model = build_model(tiny_distiller_cfg(None))
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    first = teacher_energies(model, _loader(), [4.0], seed=1)
    assert torch.equal(torch.rand(3), expected)
    second = teacher_energies(model, _loader(batch_size=4), [4.0], seed=1)
    assert torch.equal(first[4.0], second[4.0])


def test_autocast_context_is_used():
    model = build_model(tiny_distiller_cfg(None))
    entered = []

    class Context:

        def __enter__(self):
            entered.append(True)

        def __exit__(self, *exc):
            return False

    teacher_energies(model, _loader(), [4.0], autocast=Context)
    assert len(entered) == 2  # once per full batch
