# Energy DKD, release direction: 2 / 4 / 6 for low / mid / high energy (see
# energykd-release.py). Everything else as in energydkd.py.
_base_ = ['./energydkd.py']

model = dict(
    distill_losses=dict(
        loss_energydkd=dict(
            low_energy_temperature=2.0,
            mid_temperature=4.0,
            high_energy_temperature=6.0)))
