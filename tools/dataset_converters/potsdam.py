"""Convert the ISPRS Potsdam archives into MMSegmentation's layout.

    python tools/dataset_converters/potsdam.py RAW_ZIPS_OR_FOLDERS... -o data/potsdam \
        [--size 256] [--stride 256] [--split paper|mmseg] [--allow-missing]

See docs/data.md; the conversion is mmseg_stunet/converters/isprs.py.
"""

from isprs_cli import main

if __name__ == '__main__':
    main('potsdam')
