# The student alone: the same small network and schedule as every
# distillation run, trained on the labels only (the baseline of the table).
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_resnet.py'
]

model = {{_base_.student_model}}
