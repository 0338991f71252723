# The distillation-token ViT student of the heterogeneous digits setting as
# a model-only config (the Student of its distillation configs' metafile
# entries; digits_vit.py describes it).
_base_ = ['./digits_vit.py']

model = {{_base_.deit_student}}
