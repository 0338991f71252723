# The ViT student alone (class token only) of the heterogeneous digits
# setting (`python tools/benchmark_digits.py --heterogeneous`): trained on
# the labels only, its baseline.
_base_ = [
    '../_base_/datasets/digits_vit_bs64.py',
    '../_base_/schedules/digits_vit_30e.py', '../_base_/models/digits_vit.py'
]

model = {{_base_.vit_student}}
