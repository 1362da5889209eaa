"""Convert the ISPRS Vaihingen archives into MMSegmentation's layout.

    python tools/dataset_converters/vaihingen.py RAW_ZIPS_OR_FOLDERS... -o data/vaihingen \
        [--size 256] [--stride 256] [--split paper|mmseg]

See docs/data.md; the logic lives in mmseg_stunet/datasets/isprs_convert.py.
"""
from mmseg_stunet.datasets.isprs_convert import main

if __name__ == '__main__':
    main('vaihingen')
