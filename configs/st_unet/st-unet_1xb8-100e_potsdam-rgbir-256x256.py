# ST-UNet on ISPRS Potsdam's four bands (RGBIR tiles) at the paper's protocol.
# Data: python tools/dataset_converters/potsdam.py RAW... --modality RGBIR
# -o data/potsdam_rgbir. The model sees B, G, R, IR (OpenCV's order of the
# files' R, G, B, IR; tools/predict.py reads the GeoTIFFs the same way).
# Normalisation in that order: ImageNet B, G, R statistics and the Vaihingen
# IR ones (no Potsdam statistics were measured here).
_base_ = [
    '../_base_/models/st_unet.py',
    '../_base_/datasets/potsdam_rgbir_256.py',
    '../_base_/schedules/schedule_100e.py',
]
crop_size = (256, 256)
data_preprocessor = dict(
    size=crop_size,
    mean=[103.53, 116.28, 123.675, 120.64],
    std=[57.375, 57.12, 58.395, 50.24],
    bgr_to_rgb=False,
)
model = dict(data_preprocessor=data_preprocessor, backbone=dict(in_channels=4))
