# Copyright (c) mmenergykd contributors. All rights reserved.
from .multi_view_cls_data_preprocessor import MultiViewClsDataPreprocessor

__all__ = ['MultiViewClsDataPreprocessor']
