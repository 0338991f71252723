# The teacher: a plain MMPretrain ImageClassifier (CIFAR ResNet-20: three
# stages of three basic blocks, 16-32-64 channels, 0.27 M parameters),
# trained from scratch on the digits training split for 60 epochs (twice the
# students' schedule: it is trained once, and 30 epochs left it at about
# 97 % top-1 against about 98.5 % after 60). `python tools/benchmark_digits.py`
# trains it and stores it where every digits distillation config looks for
# its teacher (_base_/models/digits_distiller.py).
_base_ = [
    '../_base_/datasets/digits_bs64.py', '../_base_/schedules/digits_30e.py',
    '../_base_/models/digits_resnet.py'
]

model = {{_base_.teacher_model}}

max_epochs = 60
param_scheduler = dict(
    type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, eta_min=0.0)
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
