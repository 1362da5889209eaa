"""Convert the ISPRS Vaihingen archives into MMSegmentation's layout.

    python tools/dataset_converters/vaihingen.py RAW_ZIPS_OR_FOLDERS... -o data/vaihingen \
        [--size 256] [--stride 256] [--split paper|mmseg] [--allow-missing]

See docs/data.md; the conversion is mmseg_stunet/converters/isprs.py.
"""

from isprs_cli import main

if __name__ == '__main__':
    main('vaihingen')
