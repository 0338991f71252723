# Energy KD, release direction (the authors' code, cfg T.LOW / MID / HIGH =
# 2 / 4 / 6): low-energy (confident) samples get the LOWER temperature,
# high-energy ones the HIGHER. Everything else as in energykd.py.
_base_ = ['./energykd.py']

model = dict(
    distill_losses=dict(
        loss_energykd=dict(
            low_energy_temperature=2.0,
            mid_temperature=4.0,
            high_energy_temperature=6.0)))
