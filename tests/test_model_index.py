"""The OpenMMLab model index (``model-index.yml`` importing each config
folder's ``metafile.yaml``): what ``mim search mmseg_stunet`` reads.

Every config it lists exists and builds; every config folder and config is
listed (a config added without an entry fails here, naming it); mim's own
loader reads the index; results are only those this project measured.
"""

import glob
import os.path as osp

import pytest
import yaml
from mmengine.config import Config

from mmseg_stunet.utils.paths import project_root

ROOT = project_root()
INDEX = osp.join(ROOT, 'model-index.yml')


def _index():
    with open(INDEX) as f:
        return yaml.safe_load(f)


def _metafiles():
    """``{metafile path relative to the root: its content}``."""
    out = {}
    for rel in _index()['Import']:
        with open(osp.join(ROOT, rel)) as f:
            out[rel] = yaml.safe_load(f)
    return out


def _models():
    return [m for meta in _metafiles().values() for m in meta['Models']]


def _config_folders():
    """Folders under configs/ that hold configs (not ``_base_``)."""
    return sorted(
        osp.basename(osp.dirname(p))
        for p in glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
        if osp.basename(osp.dirname(p)) != '_base_'
    )


def test_every_config_folder_has_an_imported_metafile():
    imported = set(_index()['Import'])
    for folder in sorted(set(_config_folders())):
        rel = f'configs/{folder}/metafile.yaml'
        assert osp.isfile(osp.join(ROOT, rel)), (
            f'configs/{folder} has configs but no metafile.yaml: add one '
            '(see configs/st_unet/metafile.yaml)'
        )
        assert rel in imported, f'{rel} is not imported by model-index.yml'
    for rel in imported:
        assert osp.isfile(osp.join(ROOT, rel)), (
            f'model-index.yml imports {rel}, which does not exist'
        )


def test_every_config_is_listed_once():
    listed = [m['Config'] for m in _models()]
    assert len(listed) == len(set(listed)), 'a config is listed twice'
    names = [m['Name'] for m in _models()]
    assert len(names) == len(set(names)), 'a model name is used twice'
    configs = sorted(
        osp.relpath(p, ROOT)
        for p in glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
        if '/_base_/' not in p
    )
    missing = [c for c in configs if c not in listed]
    assert not missing, (
        f'not in configs/<folder>/metafile.yaml (so not in mim search): '
        f'{", ".join(missing)}; add a Models entry for each'
    )


def test_entries_name_their_config_collection_and_data():
    for rel, meta in _metafiles().items():
        collections = {c['Name'] for c in meta['Collections']}
        for c in meta['Collections']:
            assert osp.isfile(osp.join(ROOT, c['README'])), c['README']
        for m in meta['Models']:
            where = f'{rel}: {m["Name"]}'
            assert osp.isfile(osp.join(ROOT, m['Config'])), (
                f'{where}: Config {m["Config"]} does not exist'
            )
            assert osp.dirname(m['Config']) == osp.dirname(rel), where
            assert m['Name'] == osp.splitext(osp.basename(m['Config']))[0]
            assert m['In Collection'] in collections, where
            cfg = Config.fromfile(osp.join(ROOT, m['Config']))
            data = m['Metadata']
            crop = tuple(cfg.crop_size)
            assert data['Crop Size'] == f'({crop[0]}, {crop[1]})', where
            assert data['Batch Size'] == cfg.train_dataloader.batch_size * (
                4 if '_4xb4-' in m['Name'] else 1
            ), where
            assert data['Training Data'], where


def test_results_only_where_measured():
    """The only measured results are the demo's, on synthetic data: an
    entry with results must say so in its data set's name."""
    measured = {m['Name']: m['Results'] for m in _models() if 'Results' in m}
    assert set(measured) == {
        'st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128'
    }
    for results in measured.values():
        for result in results:
            assert 'Synthetic' in result['Dataset']
            assert result['Metrics'] == {
                'mIoU': 83.77,
                'mF1': 90.57,
                'OA': 95.6,
            }  # README's demo run


@pytest.mark.parametrize('config', sorted(m['Config'] for m in _models()))
def test_listed_config_builds(config):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    import mmseg_stunet  # noqa: F401  (registers the project's modules)

    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(osp.join(ROOT, config))
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_mim_reads_the_index():
    """mim's loader (``modelindex``) and its table (``mim search``)."""
    from mim.commands.search import convert2df
    from modelindex.load_model_index import load

    index = load(INDEX)
    table = convert2df(index)
    assert sorted(table.index) == sorted(m['Name'] for m in _models())
    demo = table.loc['st-unet-tiny_1xb8-600iter_synthetic-vaihingen-128x128']
    assert demo['synthetic isprs vaihingen (tools/demo.py)/miou'] == 83.77
    assert (
        table.loc['st-unet_1xb8-100e_vaihingen-256x256', 'training_data']
        == 'isprs vaihingen'
    )
