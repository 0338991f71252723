# MMPretrain's ImageNet data (batch 32 per GPU; 8 GPUs give the 256 of the
# schedule). Training workers restart each epoch: persistent workers would
# carry random state across epochs that no checkpoint holds (exact resume),
# and MMPretrain's tools/train.py defaults to persistent_workers=True.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs32.py']

train_dataloader = dict(persistent_workers=False)
