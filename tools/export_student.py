# Copyright (c) mmenergykd contributors. All rights reserved.
"""Write the student of a distiller checkpoint as a plain MMPretrain one.

Usage: python tools/export_student.py CONFIG CHECKPOINT OUT

Writes OUT (the student's weights) and OUT_config.py, a plain MMPretrain
config (with ``custom_imports`` when the student uses mmenergykd's
backbones or datasets): ``mmpretrain.get_model(OUT_config.py,
pretrained=OUT)`` and ``ImageClassificationInferencer`` load them in a
process that never imports mmenergykd itself.
"""
import argparse

from mmenergykd.apis import export_student, student_config_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='the distillation config')
    parser.add_argument('checkpoint', help='a training checkpoint')
    parser.add_argument('out', help='where to write the student checkpoint')
    args = parser.parse_args()
    path = export_student(args.config, args.checkpoint, args.out)
    print(f'Student checkpoint written to {path}; its MMPretrain config: '
          f'{student_config_path(path)}')


if __name__ == '__main__':
    main()
