"""Convert the ISPRS Potsdam archives into MMSegmentation's layout.

    python tools/dataset_converters/potsdam.py RAW_ZIPS_OR_FOLDERS... -o data/potsdam \
        [--size 256] [--stride 256] [--split paper|mmseg]

See docs/data.md; the logic lives in mmseg_stunet/datasets/isprs_convert.py.
"""
from mmseg_stunet.datasets.isprs_convert import main

if __name__ == '__main__':
    main('potsdam')
