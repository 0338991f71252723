# Energy KD, RELEASE direction (the authors' code, cfg T.LOW/MID/HIGH):
# low-energy (confident) samples get the LOWER temperature, high-energy
# (uncertain) samples the HIGHER one:
#   low_energy_temperature = 2 < mid_temperature = 4
#   < high_energy_temperature = 6.
# Everything else as in the paper-direction config (energykd_...).
_base_ = ['./energykd_cifarresnet20_cifarresnet8_1xb64_30e_digits.py']

model = dict(
    distill_losses=dict(
        loss_energykd=dict(
            low_energy_temperature=2.0,
            mid_temperature=4.0,
            high_energy_temperature=6.0)))
