# Energy DKD, paper direction: DKD (ImageNet recipe: alpha 1, beta 0.5, one
# warm-up epoch) with the per-sample Energy KD temperature around base 1
# (1.5 / 1.0 / 0.5, see configs/energykd/res34_res18_in1k.py) and the
# release's Energy DKD ratios 0.1 / 0.1.
_base_ = [
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_100e.py',
    '../_base_/models/resnet34_resnet18_in1k.py'
]

model = dict(
    distill_losses=dict(
        loss_energydkd=dict(
            type='EnergyDKDLoss',
            alpha=1.0,
            beta=0.5,
            low_energy_temperature=1.5,
            mid_temperature=1.0,
            high_energy_temperature=0.5,
            energy_temperature=4.0,
            low_ratio=0.1,
            high_ratio=0.1,
            loss_weight=1.0)),
    loss_warmup_epochs=dict(loss_energydkd=1))

custom_hooks = [dict(type='EnergyCalibrationHook')]
