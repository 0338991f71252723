# Copyright (c) mmenergykd contributors. All rights reserved.
"""HE-DA: augment only the samples the teacher is unsure about."""
import json
import math
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from mmenergykd.models.energy import EnergyConsumer, EnergyTemperatureLoss
from mmenergykd.models.losses.functional import per_sample_kd
from mmenergykd.utils.validation import (check_non_negative, check_positive,
                                         check_temperature,
                                         teacher_logits_checked)

__all__ = ['HighEnergyAugment', 'cutmix_box']

_DEFAULT_ALPHA = {'cutmix': 1.0, 'mixup': 0.2}


def cutmix_box(height: int, width: int, lam: float,
               rng: np.random.Generator) -> Tuple[int, int, int, int]:
    """The CutMix box: side ``sqrt(1 - lam)`` of the image, uniform centre.

    Args:
        height (int): Image height H.
        width (int): Image width W.
        lam (float): The sampled mixing ratio.
        rng (np.random.Generator): Source of the centre.

    Returns:
        tuple: ``(y1, y2, x1, x2)``, clipped to the image.
    """
    cut_rat = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut_rat), int(width * cut_rat)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    y1, y2 = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
    x1, x2 = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
    return int(y1), int(y2), int(x1), int(x2)


class HighEnergyAugment(EnergyConsumer):
    """HE-DA's whole step, attached to an ``EnergyKDDistiller``.

    After the teacher's forward on a batch, the samples whose teacher energy
    is above ``high_threshold`` are mixed among themselves (CutMix or
    MixUp with a random partner within the subset); student and teacher run
    on the mixed images, and a KD term on them is added as ``loss_heda``. No
    label loss on mixed images. Fewer than two qualifying samples: the term
    is zero for that step. The distiller calls :meth:`forward` once a step
    (select -> mix -> extra forwards -> KD term).

    Normally created by ``HighEnergyAugmentHook``; the threshold comes from
    the run's energy calibration.

    Args:
        high_ratio (float): Share of the data counted as high energy.
        augment (str): ``'cutmix'`` or ``'mixup'``.
        alpha (float, optional): Beta(alpha, alpha) parameter of the mixing
            ratio. Defaults to 1.0 for CutMix and 0.2 for MixUp.
        kd_term (str): ``'kd'`` (vanilla KD at ``temperature``) or
            ``'energy'`` (the per-sample temperatures of the run's energy
            loss).
        temperature (float): Temperature of the ``'kd'`` term.
        loss_weight (float): Weight of the term. Defaults to 0.9.
        energy_temperature (float): ``T_E`` of the energy score.
        seed (int): Seed of the augmentation's own random generator.
        selection (str): ``'energy'`` (HE-DA: the samples above the
            threshold) or ``'random'``, a control for ablations: as many
            samples as the energy rule selects in that step, drawn
            uniformly from the batch, so the extra compute is the same and
            only the choice of samples differs. Defaults to ``'energy'``.
    """

    def __init__(self,
                 high_ratio: float = 0.5,
                 augment: str = 'cutmix',
                 alpha: Optional[float] = None,
                 kd_term: str = 'kd',
                 temperature: float = 4.0,
                 loss_weight: float = 0.9,
                 energy_temperature: float = 4.0,
                 seed: int = 0,
                 selection: str = 'energy'):
        super().__init__(
            energy_temperature, low_ratio=0.0, high_ratio=high_ratio)
        if selection not in ('energy', 'random'):
            raise ValueError(f"`selection` must be 'energy' or 'random', "
                             f'got {selection!r}.')
        if augment not in _DEFAULT_ALPHA:
            raise ValueError(f'`augment` must be one of '
                             f'{sorted(_DEFAULT_ALPHA)}, got {augment!r}.')
        alpha = _DEFAULT_ALPHA[augment] if alpha is None else alpha
        check_positive('alpha', alpha)
        if kd_term not in ('kd', 'energy'):
            raise ValueError(
                f"`kd_term` must be 'kd' or 'energy', got {kd_term!r}.")
        check_temperature('temperature', temperature)
        check_non_negative('loss_weight', loss_weight)
        self.selection = selection
        self.augment = augment
        self.alpha = float(alpha)
        self.kd_term = kd_term
        self.temperature = float(temperature)
        self.loss_weight = float(loss_weight)
        self.active = True
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.num_augmented = 0
        self.num_seen = 0

    def rng_state(self) -> str:
        """The generator's state as a JSON string (to compare two runs)."""
        return json.dumps(self.rng.bit_generator.state)

    # the step ------------------------------------------------------------
    def forward(self,
                inputs: Tensor,
                energies: Dict[float, Tensor],
                student: Callable[[Tensor], Tensor],
                teacher: Callable[[Tensor], Tensor],
                energy_loss: Optional[EnergyTemperatureLoss] = None
                ) -> Dict[str, Tensor]:
        """One step: select -> mix -> student and teacher on the mix -> KD.

        Args:
            inputs (Tensor): The batch's images (B, C, H, W).
            energies (dict[float, Tensor]): The teacher's energies of the
                batch, by ``T_E`` (computed once a step).
            student (Callable): Images -> the student's logits (with
                gradient).
            teacher (Callable): Images -> the teacher's logits (checked,
                detached).
            energy_loss (EnergyTemperatureLoss, optional): The run's energy
                loss, whose temperatures ``kd_term='energy'`` uses.

        Returns:
            dict[str, Tensor]: ``loss_heda`` and the logged ``heda_num`` /
            ``heda_share`` (the number / share of samples mixed).
        """
        zero = inputs.new_zeros((), dtype=torch.float32)
        if not self.active:
            return dict(
                loss_heda=zero, heda_num=zero.clone(), heda_share=zero.clone())
        batch = inputs.shape[0]
        index = self.select(energies[self.energy_temperature])
        num = int(index.numel())
        loss = zero
        if num >= 2:
            mixed, _ = self.mix(inputs[index])
            student_logits = student(mixed)
            teacher_logits = teacher(mixed)
            loss = self.kd_loss(
                student_logits, teacher_logits,
                self.kd_temperatures(teacher_logits, energy_loss))
        else:
            num = 0
        self.count(num, batch)
        return dict(
            loss_heda=loss,
            heda_num=zero.new_tensor(float(num)),
            heda_share=zero.new_tensor(num / max(batch, 1)))

    def select(self, energies: Tensor) -> Tensor:
        """Indices of the samples whose energy is above the threshold.

        The subset's size depends on the data, so this reads it back from
        the device (the one host-device synchronisation HE-DA needs: the
        extra forward runs on a batch of that size).

        Args:
            energies (Tensor): The batch's teacher energies at
                ``energy_temperature``, shape (B,).

        Returns:
            Tensor: int64 indices into the batch, ascending.
        """
        threshold = self.thresholds(energies)[1]
        index = torch.nonzero(energies > threshold).flatten()
        if self.selection == 'random':
            # The control: as many samples, drawn uniformly from the batch.
            pick = self.rng.choice(
                energies.numel(), size=index.numel(), replace=False)
            index = torch.as_tensor(
                np.sort(pick), dtype=torch.long, device=energies.device)
        return index

    def mix(self, images: Tensor) -> Tuple[Tensor, dict]:
        """Mix ``images`` among themselves.

        Args:
            images (Tensor): The selected images (N, C, H, W), N >= 2.

        Returns:
            tuple: The mixed images and ``dict(lam, perm, box)`` (box is
            ``(y1, y2, x1, x2)`` for CutMix, None for MixUp; ``lam`` is the
            share of each image that stays its own).
        """
        num = images.shape[0]
        lam = float(self.rng.beta(self.alpha, self.alpha))
        perm = torch.as_tensor(self.rng.permutation(num), device=images.device)
        if self.augment == 'mixup':
            return lam * images + (1 - lam) * images[perm], dict(
                lam=lam, perm=perm, box=None)
        height, width = images.shape[-2:]
        y1, y2, x1, x2 = cutmix_box(height, width, lam, self.rng)
        mixed = images.clone()
        # Copy only the partners' boxes, not their whole images.
        mixed[..., y1:y2, x1:x2] = images[perm, ..., y1:y2, x1:x2]
        lam = 1.0 - (y2 - y1) * (x2 - x1) / float(height * width)
        return mixed, dict(lam=lam, perm=perm, box=(y1, y2, x1, x2))

    def check_energy_loss(self, energy_loss: Optional[EnergyTemperatureLoss]
                          ) -> None:
        """``kd_term='energy'`` needs the run's energy loss.

        Args:
            energy_loss (EnergyTemperatureLoss, optional): The first distill
                loss with energy-chosen temperatures, if any.
        """
        if self.kd_term == 'energy' and energy_loss is None:
            raise ValueError(
                "HE-DA `kd_term='energy'` needs an EnergyKDLoss, "
                'EnergyDKDLoss or EnergyMLKDLoss in `model.distill_losses`; '
                "set `kd_term='kd'` in the HighEnergyAugmentHook of "
                '`custom_hooks` for KD / DKD runs.')

    def kd_temperatures(self, teacher_logits: Tensor,
                        energy_loss: Optional[EnergyTemperatureLoss]
                        ) -> Optional[Tensor]:
        """The temperatures of the KD term on the mixed images.

        Args:
            teacher_logits (Tensor): The teacher's (checked) logits of the
                mixed images.
            energy_loss (EnergyTemperatureLoss, optional): The run's energy
                loss.

        Returns:
            Tensor | None: ``kd_term='energy'``: the energy loss's
            per-sample temperatures (from the mixed images' own energies);
            None: HE-DA's own ``temperature``.
        """
        if self.kd_term != 'energy':
            return None
        self.check_energy_loss(energy_loss)
        with teacher_logits_checked():
            return energy_loss.sample_temperatures(teacher_logits)

    def kd_loss(self,
                student_logits: Tensor,
                teacher_logits: Tensor,
                temperature: Union[float, Tensor, None] = None) -> Tensor:
        """The KD term on the mixed images, times ``loss_weight``.

        Args:
            student_logits (Tensor): The student's logits on the mixed
                images (N, C).
            teacher_logits (Tensor): The teacher's logits on them (N, C).
            temperature (float | Tensor, optional): Per-sample temperatures
                (``kd_term='energy'``: the run's energy loss's, from the
                mixed images' own energies); None: ``temperature``.

        Returns:
            Tensor: A float32 scalar.
        """
        if temperature is None:
            temperature = self.temperature
        per_sample = per_sample_kd(student_logits, teacher_logits, temperature)
        return self.loss_weight * per_sample.mean()

    def count(self, num_selected: int, batch_size: int) -> None:
        """Add one step to the epoch's summary counts."""
        self.num_seen += batch_size
        self.num_augmented += num_selected

    def reseed(self, seed: int, rank: int, iteration: int) -> None:
        """Re-seed the generator from ``(seed, rank, iteration)``, so what
        a step draws depends on that step only (a resumed run draws what
        the uninterrupted run draws)."""
        self.rng = np.random.Generator(
            np.random.PCG64([seed % (1 << 63), rank, iteration]))

    def extra_repr(self) -> str:
        return (f'high_ratio={self.high_ratio}, selection='
                f'{self.selection!r}, augment={self.augment!r}, '
                f'alpha={self.alpha}, kd_term={self.kd_term!r}, '
                f'loss_weight={self.loss_weight}')
