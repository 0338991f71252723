# Shared by every distillation config of the digits benchmark: the frozen
# teacher, the student, and no loss yet (each config adds its own).
_base_ = ['./digits.py', './models.py']

# Where `python tools/benchmark_digits.py` leaves the trained teacher
# (a plain MMPretrain checkpoint); the benchmark passes its own path.
teacher_ckpt = 'work_dirs/digits_benchmark/teacher/teacher.pth'

model = dict(
    type='EnergyKDDistiller',
    student={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt=teacher_ckpt,
    student_loss_weight=1.0,
    # The teacher's forward is a third of a step here: inference mode skips
    # autograd's bookkeeping for it (same values as no_grad).
    teacher_inference_mode=True,
    distill_losses=dict())
