"""Data loaders ask for no more workers than the machine has CPUs (the
configs ask for 4; torch warns on a 2-CPU machine)."""

import os

import pytest
from mmengine.logging import MMLogger

from mmseg_stunet.engine import runner as runner_module
from mmseg_stunet.engine.runner import (
    CheckedRunner,
    fit_num_workers,
    usable_cpus,
)


@pytest.mark.parametrize(
    'asked,cpus,expected',
    [
        (4, 2, 2),  # the configs on a 2-CPU machine
        (4, 1, 1),  # never 0: persistent_workers needs a worker
        (4, 16, 4),  # fits: as asked
        (2, 2, 2),
        (0, 2, 0),  # the main process: as asked
    ],
)
def test_fit_num_workers(asked, cpus, expected):
    cfg = dict(batch_size=2, num_workers=asked, persistent_workers=True)
    fitted = fit_num_workers(cfg, cpus)
    assert fitted['num_workers'] == expected
    assert cfg['num_workers'] == asked  # the config is not changed
    assert fitted['batch_size'] == 2 and fitted['persistent_workers']


def test_no_num_workers_means_the_main_process():
    assert fit_num_workers(dict(batch_size=1), 2) == dict(batch_size=1)


def test_usable_cpus_is_the_affinity_mask():
    expected = (
        len(os.sched_getaffinity(0))
        if hasattr(os, 'sched_getaffinity')
        else os.cpu_count()
    )
    assert usable_cpus() == expected >= 1


def test_runner_builds_loaders_with_fitted_workers(monkeypatch, capsys):
    monkeypatch.setattr(runner_module, 'usable_cpus', lambda: 2)
    MMLogger.get_instance('test_num_workers')
    loader = CheckedRunner.build_dataloader(
        dict(
            batch_size=1,
            num_workers=4,
            persistent_workers=True,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=list(range(4)),
        )
    )
    assert loader.num_workers == 2 and loader.persistent_workers
    out = capsys.readouterr()
    assert 'num_workers=4 lowered to 2, the CPUs this process may use' in (
        out.out + out.err
    )
