"""atomic_folder: a folder of outputs appears whole or not at all
(tools/test.py --out)."""

import os
import os.path as osp

import pytest

from mmseg_stunet.utils.atomic import atomic_folder, partial_path


def listing(path):
    return sorted(os.listdir(path))


def test_new_folder_appears_in_one_rename(tmp_path):
    out = str(tmp_path / 'preds')
    with atomic_folder(out + '/') as tmp:
        assert tmp == partial_path(out) and not osp.exists(out)
        open(osp.join(tmp, 'a.png'), 'w').close()
    assert listing(out) == ['a.png']
    assert listing(tmp_path) == ['preds']


def test_existing_folder_keeps_other_files_and_gets_new_ones(tmp_path):
    out = tmp_path / 'preds'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    (out / 'a.png').write_text('old')
    with atomic_folder(str(out)) as tmp:
        with open(osp.join(tmp, 'a.png'), 'w') as f:
            f.write('new')
        assert (out / 'a.png').read_text() == 'old'  # not yet
    assert listing(out) == ['a.png', 'notes.txt']
    assert (out / 'a.png').read_text() == 'new'
    assert listing(tmp_path) == ['preds']


def test_failure_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / 'preds'
    out.mkdir()
    (out / 'a.png').write_text('old')
    with pytest.raises(RuntimeError, match='stopped'):
        with atomic_folder(str(out)) as tmp:
            with open(osp.join(tmp, 'a.png'), 'w') as f:
                f.write('half')
            raise RuntimeError('stopped')
    assert listing(out) == ['a.png'] and (out / 'a.png').read_text() == 'old'
    assert listing(tmp_path) == ['preds']  # no partial sibling left


def test_stale_sibling_of_a_killed_run_is_replaced(tmp_path):
    out = str(tmp_path / 'preds')
    os.makedirs(partial_path(out))
    open(osp.join(partial_path(out), 'stale.png'), 'w').close()
    with atomic_folder(out) as tmp:
        open(osp.join(tmp, 'a.png'), 'w').close()
    assert listing(out) == ['a.png']


def test_unusable_path_fails_before_the_block(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    ran = []
    for path in (blocker, blocker / 'preds'):
        with pytest.raises(OSError, match=f'^--out {path}: '):
            with atomic_folder(str(path), label='--out'):
                ran.append(path)
    assert not ran and blocker.read_text() == 'x'
    assert listing(tmp_path) == ['file']


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes anywhere')
def test_read_only_folder_fails_before_the_block(tmp_path):
    out = tmp_path / 'preds'
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match='not writable'):
            with atomic_folder(str(out)):
                pytest.fail('the block ran')
    finally:
        out.chmod(0o755)
