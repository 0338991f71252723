# Energy KD on the distillation token of DeiT-Small (ours: no published
# number; compare with
# configs/deit/deit_convnext-small_deit-small_4xb256_300e_in1k.py, DeiT's
# hard distillation, 81.2 published): the DeiT-Tiny config's recipe,
# teacher and loss (see there) with the DeiT-Small student.
_base_ = ['./energykd_convnext-small_deit-tiny_4xb256_300e_in1k.py']

model = dict(student='mmpretrain::deit/deit-small-distilled_4xb256_in1k.py')
