# What every distillation config of the digits benchmark shares besides its
# method: the networks (digits_resnet.py) and the teacher's checkpoint.
_base_ = ['./digits_resnet.py']

# The trained teacher (a plain MMPretrain checkpoint of
# configs/cifarresnet/cifarresnet20_1xb64_60e_digits.py), in a per-user
# place that holds for every install (editable or not), every working
# directory and `mim train`: `python tools/benchmark_digits.py` stores the
# teacher it trains there (a `--quick` run never does, and its teacher is
# refused here by the run kind in its meta). Set the environment variable
# MMENERGYKD_DIGITS_TEACHER to use another file, or pass
# --cfg-options model.teacher_ckpt=PATH. A missing file is reported with the
# command that makes it (mmenergykd/utils/digits_teacher.py).
teacher_ckpt = '{{$MMENERGYKD_DIGITS_TEACHER:~/.cache/mmenergykd/digits/teacher.pth}}'  # noqa: E501
