_base_ = './vainf-deeplabv3plus_r50-os16_4xb4-30k_voc12aug-513x513.py'
model = dict(pretrained='torchvision://resnet101', backbone=dict(depth=101))
