"""Tile names carry the tile's box within its area, both ways."""

from mmseg_stunet.utils.tiling import parse_tile_name, tile_name


def test_tile_name_round_trip_and_names_without_a_box():
    name = tile_name('top_potsdam_2_13', (256, 0, 512, 256))
    assert name == 'top_potsdam_2_13_256_0_512_256.png'
    assert parse_tile_name('x/ann_dir/val/' + name) == (
        'top_potsdam_2_13',
        (256, 0, 512, 256),
    )
    assert parse_tile_name('area1_0_0_256_256.tif') == (
        'area1',
        (0, 0, 256, 256),
    )
    for other in ('scene.png', 'area1_0_0_256.png', 'area1_5_0_5_9.png'):
        assert parse_tile_name(other) is None
