# KD (Hinton et al., 2015): one temperature for every sample. The CIFAR-100
# recipe of CRD / mdistiller (configs/cifar100/kd.yaml) and of the Energy KD
# release: T 4, CE 0.1, KD 0.9. A pair config adds student, teacher and
# teacher_ckpt (and changes what its dataset's recipe changes, e.g. ImageNet
# T 1, KD 3).
model = dict(
    type='EnergyKDDistiller',
    student_loss_weight=0.1,
    distill_losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=0.9)))
