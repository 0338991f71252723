# DeiT-Small with a distillation token, DeiT's hard distillation and recipe
# (300 epochs, 4 x 256 images). DeiT reports 81.2 top-1 (79.8 without
# distillation); MMPretrain's converted weights of that model reach 81.17.
# The DeiT-Tiny config with the DeiT-Small student: teacher ConvNeXt-S from
# MMPretrain's zoo by name, in place of DeiT's RegNetY-16GF (see there).
_base_ = ['./deit_convnext-small_deit-tiny_4xb256_300e_in1k.py']

model = dict(student='mmpretrain::deit/deit-small-distilled_4xb256_in1k.py')
