# Shared by every distillation config of the digits benchmark: the frozen
# teacher, the student, and no loss yet (each config adds its own).
_base_ = ['./digits_resnet.py']

# The trained teacher (a plain MMPretrain checkpoint). The teacher phase of
# `python tools/benchmark_digits.py` writes it to
# <repository>/work_dirs/digits_benchmark/teacher/teacher.pth (the benchmark
# passes its own path to its runs). The default below is that file, found
# from this config's folder, so it holds from any working directory of a
# repository checkout; set the environment variable MMENERGYKD_DIGITS_TEACHER
# to use another file (e.g. with the configs of an installed package, or a
# repository path that contains spaces).
teacher_ckpt = '{{$MMENERGYKD_DIGITS_TEACHER:{{ fileDirname }}/../../../work_dirs/digits_benchmark/teacher/teacher.pth}}'  # noqa: E501

model = dict(
    type='EnergyKDDistiller',
    student={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt=teacher_ckpt,
    teacher_ckpt_hint=(
        'The digits teacher is made by `python tools/benchmark_digits.py` '
        '(its teacher phase writes work_dirs/digits_benchmark/teacher/'
        'teacher.pth in the repository); or point '
        'MMENERGYKD_DIGITS_TEACHER (or --cfg-options model.teacher_ckpt=...) '
        'at a trained teacher.'),
    student_loss_weight=1.0,
    # The teacher's forward is a third of a step here: inference mode skips
    # autograd's bookkeeping for it (same values as no_grad).
    teacher_inference_mode=True,
    distill_losses=dict())
