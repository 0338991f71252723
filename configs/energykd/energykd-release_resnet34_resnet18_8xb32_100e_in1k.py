# Energy KD, release direction (the authors' code, cfg T.LOW/MID/HIGH =
# 2 / 4 / 6 at base 4): low-energy (confident) samples get the LOWER
# temperature. Scaled to the ImageNet base T = 1 as explained in
# res34_res18_in1k.py: 0.5 / 1.0 / 1.5.
_base_ = ['./res34_res18_in1k.py']

model = dict(
    distill_losses=dict(
        loss_energykd=dict(
            low_energy_temperature=0.5,
            mid_temperature=1.0,
            high_energy_temperature=1.5)))
