# The digits for the ViT students of the heterogeneous digits setting: the
# same images and split as digits_bs64.py, upscaled x4 (bilinear, at load
# time) to 32 px and normalised to [-1, 1] (mean = std = 127.5). The digits
# teacher keeps its own preprocessing (16 px, the set's mean / std): its
# distillers give it the student's crops resized to 16 px and normalised its
# way (`model.teacher_input_size`).
_base_ = ['./digits_bs64.py']

scale_factor = 4
img_size = 8 * scale_factor

data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
# The shifts of digits_bs64.py (2 px at 16 px) at 32 px.
train_pipeline = [
    dict(type='RandomCrop', crop_size=img_size, padding=4),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(scale_factor=scale_factor, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(scale_factor=scale_factor))
test_dataloader = val_dataloader
