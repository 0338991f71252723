# Energy KD on the distillation token of DeiT-Small (ours: no published number;
# compare with configs/deit/deit_convnext-small_deit-small_4xb256_300e_in1k.py,
# DeiT's hard distillation with the same teacher, recipe and weights). The
# class token learns from the labels (weight 1/2, as DeiT), the distillation
# token from the teacher's soft logits with the energy temperatures of the
# ImageNet configs (base T = 1, paper direction: 1.5 / 1 / 0.5 for the
# low / mid / high energy samples; see res34_res18_in1k.py), weight 1/2.
# The temperatures' thresholds come from one teacher pass over the training
# set before training (EnergyCalibrationHook). Teacher: ConvNeXt-S from
# MMPretrain's zoo by name (see the DeiT config for how it differs from
# DeiT's RegNetY-16GF).
_base_ = [
    '../_base_/datasets/imagenet_bs256_deit_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_300e.py',
    '../_base_/distill/energykd.py'
]

model = dict(
    student='mmpretrain::deit/deit-small-distilled_4xb256_in1k.py',
    teacher='convnext-small_32xb128_in1k',
    student_loss_weight=0.5,
    distill_losses=dict(
        loss_energykd=dict(
            low_energy_temperature=1.5,
            mid_temperature=1.0,
            high_energy_temperature=0.5,
            loss_weight=0.5,
            student_head='dist')))
