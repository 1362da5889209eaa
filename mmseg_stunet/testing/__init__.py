"""Synthetic ISPRS archives and helpers for the tests, the demo and the
benchmarks (nothing here is registered or imported by ``mmseg_stunet``)."""
from .helpers import (SMALL_STUNET_BACKBONE, SMALL_STUNET_HEAD,
                      bn_reference, build_small, checksums, conv_bn_reference,
                      randomise_bn, run_tool, small_cfg, smooth_scene,
                      tiny_config, tiny_data_options, tiny_stunet_model,
                      write_shapes_dataset, write_tiny_config)
from .synthetic_isprs import (colour_label, erode_label, make_scene,
                              write_potsdam_archives,
                              write_vaihingen_archives)

__all__ = [
    'SMALL_STUNET_BACKBONE', 'SMALL_STUNET_HEAD', 'bn_reference', 'checksums',
    'conv_bn_reference', 'randomise_bn', 'build_small', 'run_tool',
    'small_cfg', 'smooth_scene', 'tiny_config', 'tiny_data_options',
    'tiny_stunet_model',
    'write_shapes_dataset', 'colour_label', 'erode_label', 'make_scene',
    'write_potsdam_archives', 'write_vaihingen_archives'
]
