# The teacher: a plain MMPretrain ImageClassifier (CIFAR ResNet-20 widths),
# trained from scratch on the digits training split.
_base_ = ['./_base_/digits.py', './_base_/models.py']

model = {{_base_.teacher_model}}
