# The student alone: the same small network and schedule as every
# distillation run, trained on the labels only (the baseline of the table).
_base_ = ['./_base_/digits.py', './_base_/models.py']

model = {{_base_.student_model}}
