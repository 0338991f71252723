# CIFAR-100-LT: the training split of MMPretrain's CIFAR100 cut to an
# exponential long-tailed profile (imbalance factor 100: 500 images for class
# 0 down to 5 for class 99); the balanced test split for evaluation. Same
# transforms, normalisation and batch as the CIFAR-100 configs.
_base_ = ['../../cifar100/_base_/cifar100_bs64.py']

train_dataloader = dict(
    dataset=dict(type='CIFAR100LT', imb_factor=100, split='train'))
