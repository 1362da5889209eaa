_base_ = [
    './_base_/vainf_deeplabv3_r50.py',
    './_base_/vainf_voc12aug_513x513_30k.py',
]
