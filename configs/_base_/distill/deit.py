# DeiT's hard distillation (Touvron et al., ICML 2021, Eq. 3): the student
# has a class token and a distillation token (MMPretrain's
# DistilledVisionTransformer + DeiTClsHead, or LeViT's distillation head).
# The class token learns from the labels (the head's own loss, weight 1/2),
# the distillation token from the teacher's decision, argmax of its logits
# on the same augmented image (weight 1/2). The student predicts with the
# average of its two heads (MMPretrain's DeiTClsHead). A pair config adds
# student, teacher and, unless the teacher is a model-index name, the
# teacher checkpoint.
model = dict(
    type='EnergyKDDistiller',
    student_loss_weight=0.5,
    distill_losses=dict(
        loss_hard=dict(
            type='HardDistillLoss', loss_weight=0.5, student_head='dist')))
