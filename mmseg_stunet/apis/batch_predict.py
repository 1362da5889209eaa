"""Scene prediction over many processes and machines (``torchrun``),
resumable, with a manifest: the scene list, its sharding, the row bands of
large scenes, the manifest and the progress line of ``tools/predict.py
--launcher pytorch`` (``tools/dist_predict.sh``).

Design (each choice is what makes the outputs equal to a single process's
and a killed run safe to repeat):

* **Plan.** Rank 0 opens every input (header only: size, bands, dtype) and
  cuts the work into *units*: a whole scene, or a *row band* of a scene
  larger than ``band_pixels``. A band is a run of whole tile rows of the
  scene's own tiling (:meth:`ScenePredictor.tiles`) that starts at a tile
  index divisible by ``batch_size``, so its windows, their cores and even
  their batches are exactly those of the single-process run: every output
  pixel comes from the same window through the same forward pass (the
  predictor keeps each pixel from one window, the overlap-tile strategy,
  so there is no blending across band borders to reproduce; the windows
  read pixels beyond the band, from the same scene). Units go to ranks by
  longest-processing-time first (largest unit to the least loaded rank),
  balancing pixels; the plan travels to the other ranks through the
  process group's key-value store.
* **Bands into parts, merged without a model pass.** Each band is written
  to its own part file (``<out>/.parts/<settings>/<name>.rows<a>-<b>.tif``,
  atomic rename); the rank that finishes a scene's last band (an atomic
  ``store.add`` counter decides) copies the parts strip by strip into the
  scene's output. Several processes writing windows into one pre-created
  GeoTIFF is not safe with GDAL: each process keeps its own block cache and
  its own idea of where compressed blocks end in the file, so blocks
  written by one overwrite another's (GDAL documents no multi-process
  writing of one dataset).
* **Complete = manifest + file.** Outputs are written under a hidden
  partial name and renamed when whole (:func:`~..utils.atomic.atomic_write`),
  so a killed run leaves no output that looks complete. With ``manifest``
  a scene is skipped on a re-run when its latest record is ``done`` with
  the same settings fingerprint (model, checkpoint, window, flips...) and
  its outputs exist; an output of another model is predicted again, never
  taken as complete.
* **One manifest writer.** Every rank posts its records to the store; a
  thread of rank 0 appends them to the manifest (JSON lines: ``scene``,
  ``status`` done/skipped/failed, ``seconds``, ``pixels``, ``error``, plus
  ``outputs``, ``settings``, ``rank``) as they arrive. Appends from several
  processes would be atomic on a local file system (``O_APPEND``) but not
  on NFS, where multi-node runs keep their outputs; per-rank files would
  leave no single manifest to watch.
* **Failure without a hang.** No collective runs after the start. A rank
  that fails (without ``keep_going``) posts ``abort`` before stopping;
  the others check it after every batch and stop with one line. Every
  rank bumps a heartbeat counter from a thread; rank 0, waiting at the end
  for the others, stops with one line when a rank's heartbeat stands still
  for ``rank_timeout`` s (a rank killed on another node).
* **Progress.** Ranks add their pixels and scenes to two store counters
  after each batch (one small message); rank 0 prints one line every few
  seconds: scenes done, Mpx done, Mpx/s, ETA.
"""

import glob
import hashlib
import json
import math
import os
import os.path as osp
import signal
import sys
import threading
import time
import warnings
from collections import Counter
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    'expand_inputs',
    'input_roots',
    'band_splits',
    'Unit',
    'plan_units',
    'assign',
    'read_manifest',
    'ManifestWriter',
    'settings_fingerprint',
    'RunAborted',
    'BatchPredictor',
    'KILL_ENV',
]

#: test hook: ``RANK:UNITS`` makes that rank SIGKILL itself after finishing
#: that many units (tests of resuming a killed run)
KILL_ENV = 'MMSEG_STUNET_TEST_KILL_AFTER'
_GLOB_CHARS = '*?['


class RunAborted(RuntimeError):
    """Another rank failed (or stopped answering): this one stops too."""


# -- inputs -------------------------------------------------------------------
def expand_inputs(items: Sequence[str]) -> List[str]:
    """Files, folders (their images, not recursive), glob patterns (``**``
    recursive) and ``@LIST`` text files (one input per line, any of the
    former; blank lines and ``#`` comments skipped; relative paths are
    relative to the list's folder) -> the scene files in order, each once.

    Raises:
        FileNotFoundError: naming the input, pattern or list that gives
            nothing.
    """
    from .raster_io import list_images

    files: List[str] = []
    for item in items:
        if item.startswith('@') and not osp.exists(item):
            files.extend(_read_list(item[1:]))
        elif any(c in item for c in _GLOB_CHARS) and not osp.exists(item):
            found = sorted(
                p
                for p in glob.glob(item, recursive=True)
                if osp.isfile(p) and not osp.basename(p).startswith('.')
            )
            if not found:
                raise FileNotFoundError(f'no files match the pattern {item}')
            files.extend(found)
        else:
            files.extend(list_images([item]))
    seen, unique = set(), []
    for path in files:
        key = osp.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def input_roots(items: Sequence[str]) -> List[str]:
    """What, besides the scene files, an output must not be or lie inside:
    the folders given (directly or in a list), the base folder of a
    recursive (``**``) pattern (a re-run would read the outputs as scenes)
    and the ``@LIST`` files themselves. A non-recursive pattern counts as
    the files it matches, as the shell's expansion of it would."""
    roots: List[str] = []
    for item in items:
        if item.startswith('@') and not osp.exists(item):
            roots.append(item[1:])
            roots.extend(input_roots(_list_items(item[1:])))
        elif any(c in item for c in _GLOB_CHARS) and not osp.exists(item):
            if '**' in item:
                parts = item.split(os.sep)
                fixed = []
                for part in parts:
                    if glob.has_magic(part):
                        break
                    fixed.append(part)
                roots.append(os.sep.join(fixed) or os.curdir)
        elif osp.isdir(item):
            roots.append(item)
    return roots


def _list_items(path: str) -> List[str]:
    if not osp.isfile(path):
        raise FileNotFoundError(f'input list not found: {path}')
    base = osp.dirname(path)
    with open(path, encoding='utf-8') as f:
        lines = [line.strip() for line in f]
    items = [
        line if osp.isabs(line) else osp.join(base, line)
        for line in lines
        if line and not line.startswith('#')
    ]
    if not items:
        raise FileNotFoundError(f'input list {path} names no inputs')
    return items


def _read_list(path: str) -> List[str]:
    return expand_inputs(_list_items(path))


# -- the plan -----------------------------------------------------------------
class Unit(NamedTuple):
    """Work for one rank: scene ``scene`` (index) whole (``bands == 1``), or
    its band ``band`` of ``bands``: tile rows ``tile_rows`` whose cores are
    the pixel rows ``rows`` (end exclusive)."""

    scene: int
    band: int
    bands: int
    tile_rows: Tuple[int, int]
    rows: Tuple[int, int]
    pixels: int


def band_splits(
    height: int,
    width: int,
    window: Tuple[int, int],
    overlap: Tuple[int, int],
    batch_size: int,
    count: int,
) -> List[Tuple[int, int, int, int]]:
    """Cut a scene's tiling into at most ``count`` row bands of about equal
    height: ``(tile_row_start, tile_row_end, row_start, row_end)`` each.

    With ``n`` tiles per row, a band starts at a tile row divisible by
    ``g = batch_size / gcd(n, batch_size)``, so at tile index ``t * n``
    divisible by ``batch_size``: its batches are the single-process run's.
    The bands' core rows partition ``[0, height)``.
    """
    from .tiling import axis_spans

    rows = axis_spans(height, window[0], overlap[0])
    ncols = len(axis_spans(width, window[1], overlap[1]))
    step = batch_size // math.gcd(ncols, batch_size)
    groups = math.ceil(len(rows) / step)
    count = max(1, min(count, groups))
    cuts = sorted(
        {
            min(len(rows), round(i * groups / count) * step)
            for i in range(count + 1)
        }
    )
    return [
        (a, b, rows[a].core_start, rows[b - 1].core_end)
        for a, b in zip(cuts, cuts[1:])
    ]


def plan_units(
    sizes: Sequence[Optional[Tuple[int, int]]],
    window: Tuple[int, int],
    overlap: Tuple[int, int],
    batch_size: int,
    band_pixels: Optional[int],
) -> List[Unit]:
    """Units for scenes of ``sizes`` (``(height, width)``, None for a scene
    left out): a scene of more than ``band_pixels`` pixels is cut into
    ``ceil(pixels / band_pixels)`` bands (:func:`band_splits`)."""
    units = []
    for i, size in enumerate(sizes):
        if size is None:
            continue
        height, width = size
        count = (
            1 if not band_pixels else math.ceil(height * width / band_pixels)
        )
        splits = (
            band_splits(height, width, window, overlap, batch_size, count)
            if count > 1
            else [(0, -1, 0, height)]
        )
        for band, (t0, t1, r0, r1) in enumerate(splits):
            units.append(
                Unit(
                    i, band, len(splits), (t0, t1), (r0, r1), (r1 - r0) * width
                )
            )
    return units


def assign(units: Sequence[Unit], world: int) -> List[List[Unit]]:
    """Longest processing time first: units by pixels, largest first, each
    to the rank with the fewest pixels so far (lowest rank on ties);
    deterministic. The largest load is at most 4/3 of the optimum."""
    loads = [0] * world
    shares: List[List[Unit]] = [[] for _ in range(world)]
    for unit in sorted(units, key=lambda u: (-u.pixels, u.scene, u.band)):
        rank = min(range(world), key=lambda r: (loads[r], r))
        loads[rank] += unit.pixels
        shares[rank].append(unit)
    return shares


def default_band_pixels(total: int, world: int) -> Optional[int]:
    """Bands when one process cannot balance: scenes above half a rank's
    fair share (``total / (2 world)``, at least 1 Mpx) are cut; none with
    one process."""
    if world < 2:
        return None
    return max(1_000_000, math.ceil(total / (2 * world)))


# -- the manifest -------------------------------------------------------------
def settings_fingerprint(
    settings: Dict[str, Any], files: Sequence[str] = ()
) -> str:
    """sha256 (16 hex digits) of the JSON of ``settings`` and of the
    contents of ``files`` (config, checkpoint): a scene done under another
    fingerprint is not complete for this run."""
    digest = hashlib.sha256(
        json.dumps(settings, sort_keys=True, default=str).encode()
    )
    for path in files:
        if path and osp.isfile(path):
            with open(path, 'rb') as f:
                for chunk in iter(lambda: f.read(1 << 20), b''):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


def read_manifest(path: Optional[str]) -> Dict[str, dict]:
    """The latest record of each scene in a JSON-lines manifest (empty if
    there is none); a torn last line of a killed writer is ignored.

    Raises:
        ValueError: naming the file and line of a line that is not a JSON
            record (before the last).
    """
    records: Dict[str, dict] = {}
    if not path or not osp.isfile(path):
        return records
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            scene = record['scene']
        except (ValueError, KeyError, TypeError):
            if no == len(lines):  # no newline yet: a write cut short
                continue
            raise ValueError(
                f'{path}:{no}: not a manifest record (JSON '
                'with a "scene"); fix or remove the line'
            ) from None
        records[scene] = record
    return records


def is_complete(record: Optional[dict], fingerprint: str) -> bool:
    """A scene is complete when its latest record says ``done`` (or
    ``skipped``, a done scene seen again) under ``fingerprint`` and every
    output it names exists (renamed into place only when whole)."""
    return (
        record is not None
        and record.get('status') in ('done', 'skipped')
        and record.get('settings') == fingerprint
        and bool(record.get('outputs'))
        and all(osp.isfile(p) for p in record['outputs'])
    )


class ManifestWriter:
    """Appends one JSON line per record, in one ``write`` call each, and
    flushes it (the only writer: rank 0)."""

    def __init__(self, path: Optional[str]):
        self.path = path
        self._fd = None
        if path:
            os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
            try:
                self._fd = os.open(
                    path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
                )
            except OSError as err:
                raise OSError(
                    f'--manifest {path}: cannot write there ({err.strerror})'
                ) from err
            if os.fstat(self._fd).st_size:  # end a torn line of a killed run
                with open(path, 'rb') as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b'\n':
                        os.write(self._fd, b'\n')

    def write(self, record: dict) -> None:
        if self._fd is not None:
            os.write(self._fd, (json.dumps(record) + '\n').encode())

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- coordination through the store ------------------------------------------
class _Store:
    """The run's key-value store (``torch.distributed``'s default store
    under torchrun, an in-process ``HashStore`` alone) with the few
    operations the run needs; a lost store is one line."""

    def __init__(self, store: Any):
        self._store = store

    def _call(self, name: str, *args):
        try:
            return getattr(self._store, name)(*args)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0] if str(err) else ''
            raise RunAborted(
                "lost contact with the run's key-value store "
                f"(rank 0's node): {first}"
            ) from err

    def add(self, key: str, amount: int = 1) -> int:
        return int(self._call('add', 'predict/' + key, amount))

    def set(self, key: str, value: str) -> None:
        self._call('set', 'predict/' + key, value)

    def get(self, key: str) -> str:
        return self._call('get', 'predict/' + key).decode()

    def has(self, key: str) -> bool:
        return bool(self._call('check', ['predict/' + key]))


def _default_store(distributed: bool) -> Any:
    import torch.distributed as dist

    if distributed:
        from torch.distributed.distributed_c10d import _get_default_store

        return _get_default_store()
    return dist.HashStore()


class BatchPredictor:
    """Predict a list of scenes with ``predictor`` on this rank's share,
    coordinating with the other ranks (see the module docstring).

    Args:
        predictor: a :class:`~.scene_predictor.ScenePredictor` (its own
            progress bar off).
        out_dir (str): output folder.
        fingerprint (str): :func:`settings_fingerprint` of the run.
        manifest (str, optional): JSON-lines manifest; with it, complete
            scenes are skipped.
        keep_going (bool): record a failing scene and go on; the run then
            ends with :meth:`run` returning the failures.
        band_pixels (int, optional): cut scenes larger than this into row
            bands. Default: :func:`default_band_pixels`.
        rank_timeout (float): seconds without a heartbeat of a rank before
            rank 0 stops the run.
        progress (bool): rank 0 prints the aggregated progress line.
        errors (tuple): the exception classes that mark a bad scene.
    """

    def __init__(
        self,
        predictor: Any,
        out_dir: str,
        fingerprint: str,
        manifest: Optional[str] = None,
        keep_going: bool = False,
        band_pixels: Optional[int] = None,
        rank_timeout: float = 300.0,
        progress: bool = True,
        errors: Tuple[type, ...] = (OSError, ValueError),
    ):
        import torch.distributed as dist

        self.predictor = predictor
        self.out_dir = out_dir
        self.fingerprint = fingerprint
        self.manifest = manifest
        self.keep_going = keep_going
        self.band_pixels = band_pixels
        self.rank_timeout = rank_timeout
        self.progress = progress
        self.errors = errors
        distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if distributed else 0
        self.world = dist.get_world_size() if distributed else 1
        self.store = _Store(_default_store(distributed))
        self.parts_dir = osp.join(out_dir, '.parts', fingerprint)
        self._stop = threading.Event()
        self._units_done = 0
        kill = os.environ.get(KILL_ENV, '')
        self._kill_after = (
            int(kill.split(':')[1])
            if kill and int(kill.split(':')[0]) == self.rank
            else None
        )

    # the plan ------------------------------------------------------------
    def _make_plan(self, inputs: Sequence[str]) -> dict:
        """Rank 0: scenes, their checks and sizes, skipped and failed ones,
        the units of each rank."""
        from .raster_io import SceneReader

        p = self.predictor
        files = expand_inputs(inputs)
        names = [osp.splitext(osp.basename(f))[0] for f in files]
        dup = sorted(n for n, c in Counter(names).items() if c > 1)
        if dup:
            same = [f for f, n in zip(files, names) if n == dup[0]]
            raise ValueError(
                f'inputs with the same name would overwrite '
                f'each other in {self.out_dir}: {same}'
            )
        from ..utils.paths import check_outputs

        check_outputs(
            [('--out-dir', self.out_dir)]
            + [
                ('output', osp.join(self.out_dir, n + s))
                for n in names
                for s in ('.tif', '.png', '_preview.png')
            ]
            + [('--manifest', self.manifest)],
            [('input', f) for f in [*input_roots(inputs), *files]],
            distinct=False,
        )
        os.makedirs(self.out_dir, exist_ok=True)
        done = read_manifest(self.manifest)
        sizes, records, outputs = [], [], []
        for path in files:
            try:
                with SceneReader(
                    path, p.bands, p.in_channels, p.nodata
                ) as reader:
                    p.check_dtype(reader)
                    size = (reader.height, reader.width)
                    out = p.output_paths(
                        path, self.out_dir, reader.is_plain_image
                    )
            except self.errors as err:
                if not self.keep_going:
                    raise
                print(
                    f'warning: {path}: {_one_line(err)} (skipped: '
                    '--keep-going)',
                    file=sys.stderr,
                    flush=True,
                )
                records.append(
                    self._record(path, 'failed', 0.0, 0, _one_line(err))
                )
                sizes.append(None)
                outputs.append(None)
                continue
            outputs.append(list(out.values()))
            if self.manifest and is_complete(done.get(path), self.fingerprint):
                records.append(
                    self._record(
                        path,
                        'skipped',
                        0.0,
                        size[0] * size[1],
                        outputs=outputs[-1],
                    )
                )
                sizes.append(None)
                continue
            sizes.append(size)
        total = sum(h * w for s in sizes if s for h, w in [s])
        band_pixels = self.band_pixels or default_band_pixels(
            total, self.world
        )
        units = plan_units(
            sizes, p.window, p.overlap, p.batch_size, band_pixels
        )
        return dict(
            files=files,
            outputs=outputs,
            records=records,
            total=total,
            scenes=len({u.scene for u in units}),
            shares=[
                [list(u) for u in share] for share in assign(units, self.world)
            ],
        )

    def _share_plan(self, inputs: Sequence[str]) -> dict:
        if self.rank == 0:
            try:
                plan = self._make_plan(inputs)
            except BaseException as err:
                self._abort(f'rank 0: {_one_line(err)}')
                raise
            self.store.set('plan', json.dumps(plan))
            return plan
        beat = (-1, time.monotonic())
        while not self.store.has('plan'):  # rank 0 reads every header
            self._check_abort()
            beat = self._check_beat(0, beat)
            time.sleep(0.2)
        return json.loads(self.store.get('plan'))

    def _check_beat(
        self, rank: int, last: Tuple[int, float]
    ) -> Tuple[int, float]:
        """``(heartbeats, when seen)`` of ``rank``; stop the run when it
        has not changed for ``rank_timeout`` s."""
        count, now = self.store.add(f'beat/{rank}', 0), time.monotonic()
        if count != last[0]:
            return count, now
        if now - last[1] > self.rank_timeout:
            message = (
                f'rank {rank} stopped answering (no heartbeat for '
                f'{self.rank_timeout:g} s)'
            )
            self._abort(message)
            raise RunAborted(f'stopped: {message}')
        return last

    # running -------------------------------------------------------------
    def run(self, inputs: Sequence[str]) -> List[dict]:
        """Predict this rank's share; on rank 0 also wait for the others,
        write the manifest and return every record (scene order); other
        ranks return their own records.

        Raises:
            RunAborted: another rank failed or stopped answering.
        """
        beat = threading.Thread(target=self._heartbeat, daemon=True)
        beat.start()
        writer, monitor, failed = None, None, False
        try:
            plan = self._share_plan(inputs)
            self.files, self.outputs = plan['files'], plan['outputs']
            self._total, self._scenes = plan['total'], plan['scenes']
            if self.rank == 0:
                writer = ManifestWriter(self.manifest)
                self._collected: List[dict] = []
                for record in plan['records']:
                    self._collect(writer, record)
                self._start = time.perf_counter()
                monitor = threading.Thread(
                    target=self._monitor, args=(writer,), daemon=True
                )
                monitor.start()
            shares = [
                [Unit(*u[:3], tuple(u[3]), tuple(u[4]), u[5]) for u in share]
                for share in plan['shares']
            ]
            self._units = [u for share in shares for u in share]
            own = [self._run_unit(unit) for unit in shares[self.rank]]
            self.store.set(f'done/{self.rank}', '1')  # heartbeat may stop
            self.store.add('finished')
            if self.rank != 0:
                return [r for r in own if r is not None]
            self._wait_for_ranks()
        except BaseException as err:
            failed = True
            if not isinstance(err, RunAborted):
                self._abort(f'rank {self.rank}: {_one_line(err)}')
            raise
        finally:
            self._stop.set()
            # a daemon thread inside a store call when the interpreter
            # exits aborts the process (std::terminate, SIGABRT): join both
            beat.join(timeout=10)
            if monitor is not None:
                monitor.join()
            if writer is not None:
                try:  # the records that arrived (also when stopped)
                    self._drain(writer)
                except RunAborted:
                    if not failed:
                        raise
                    # the store is gone: the error in flight says why
                finally:
                    writer.close()
        if self.progress:
            print(self._progress_line(final=True), file=sys.stderr, flush=True)
        order = {f: i for i, f in enumerate(self.files)}
        missing = set(self.files) - {r['scene'] for r in self._collected}
        if missing:  # never report success for a scene nobody finished
            raise RunAborted(
                f'{len(missing)} scene(s) finished without a '
                f'record, e.g. {sorted(missing)[0]}'
            )
        return sorted(self._collected, key=lambda r: order[r['scene']])

    def _run_unit(self, unit: Unit) -> Optional[dict]:
        path = self.files[unit.scene]
        start = time.perf_counter()
        record = None
        try:
            if unit.bands == 1:
                out = self.predictor.predict_scene(
                    path, self.out_dir, on_batch=self._on_batch
                )
                record = self._record(
                    path,
                    'done',
                    time.perf_counter() - start,
                    unit.pixels,
                    outputs=list(out.values()),
                )
            else:
                record = self._run_band(unit, start)
        except self.errors as err:
            if not self.keep_going:
                raise
            print(
                f'warning: {path}: {_one_line(err)} (skipped: --keep-going)',
                file=sys.stderr,
                flush=True,
            )
            if unit.bands > 1:  # the scene fails when its last band ends
                self.store.set(f'bandfail/{unit.scene}', _one_line(err))
                record = self._band_finished(unit, start)
            else:
                record = self._record(
                    path,
                    'failed',
                    time.perf_counter() - start,
                    unit.pixels,
                    _one_line(err),
                )
        if record is not None:
            self._post(record)
            self.store.add('scenes_done')
        self._units_done += 1
        if (
            self._kill_after is not None
            and self._units_done >= self._kill_after
        ):
            os.kill(os.getpid(), signal.SIGKILL)  # test hook (KILL_ENV)
        return record

    def _part_path(self, unit: Unit) -> str:
        stem = osp.splitext(osp.basename(self.files[unit.scene]))[0]
        return osp.join(
            self.parts_dir, f'{stem}.rows{unit.rows[0]}-{unit.rows[1]}.tif'
        )

    def _run_band(self, unit: Unit, start: float) -> Optional[dict]:
        """Predict one band into its part (unless a killed run finished
        it); the rank that ends a scene's last band merges the parts."""
        import rasterio

        from ..utils.atomic import atomic_write
        from .raster_io import GDAL_CACHE_MB, SceneReader

        part = self._part_path(unit)
        if osp.isfile(part):  # finished by a killed run (renamed when whole)
            self.store.add('pixels_done', unit.pixels)
        else:
            os.makedirs(self.parts_dir, exist_ok=True)
            p = self.predictor
            with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), SceneReader(
                self.files[unit.scene], p.bands, p.in_channels, p.nodata
            ) as reader, atomic_write(part) as tmp:
                tiles = p.tiles(reader.height, reader.width)
                ncols = len(tiles) // len({t.row for t in tiles})
                t0, t1 = unit.tile_rows
                with _BandWriter(tmp, reader.width, unit.rows) as writer:
                    p._predict_tiles(
                        reader,
                        writer,
                        tiles[t0 * ncols : t1 * ncols],
                        on_batch=self._on_batch,
                    )
        return self._band_finished(unit, start)

    def _band_finished(self, unit: Unit, start: float) -> Optional[dict]:
        """Count the band; the last one merges (or reports the failure)."""
        path = self.files[unit.scene]
        self.store.add(
            f'seconds/{unit.scene}', int(1000 * (time.perf_counter() - start))
        )
        if self.store.add(f'bands/{unit.scene}') < unit.bands:
            return None
        seconds = self.store.add(f'seconds/{unit.scene}', 0) / 1000
        pixels = sum(u.pixels for u in self._units if u.scene == unit.scene)
        if self.store.has(f'bandfail/{unit.scene}'):
            return self._record(
                path,
                'failed',
                seconds,
                pixels,
                self.store.get(f'bandfail/{unit.scene}'),
            )
        merge_start = time.perf_counter()
        out = merge_parts(
            self.predictor,
            path,
            self.out_dir,
            [
                (r0, r1, self._part_path(unit._replace(rows=(r0, r1))))
                for r0, r1 in sorted(
                    u.rows for u in self._units if u.scene == unit.scene
                )
            ],
        )
        for folder in (self.parts_dir, osp.dirname(self.parts_dir)):
            try:
                os.rmdir(folder)  # when no other scene has parts there
            except OSError:
                break
        return self._record(
            path,
            'done',
            seconds + time.perf_counter() - merge_start,
            pixels,
            outputs=list(out.values()),
        )

    def _record(
        self,
        scene: str,
        status: str,
        seconds: float,
        pixels: int,
        error: Optional[str] = None,
        outputs: Optional[List[str]] = None,
    ) -> dict:
        return dict(
            scene=scene,
            status=status,
            seconds=round(seconds, 3),
            pixels=pixels,
            error=error,
            outputs=outputs or [],
            settings=self.fingerprint,
            rank=self.rank,
        )

    # store traffic ---------------------------------------------------------
    def _post(self, record: dict) -> None:
        n = self.store.add(f'rec/{self.rank}/n', 0)
        self.store.set(f'rec/{self.rank}/{n}', json.dumps(record))
        self.store.add(f'rec/{self.rank}/n')  # after the record is there

    def _on_batch(self, pixels: int) -> None:
        self.store.add('pixels_done', pixels)
        self._check_abort()

    def _abort(self, message: str) -> None:
        try:
            if not self.store.has('abort'):
                self.store.set('abort', message)
        except RunAborted:
            pass

    def _check_abort(self) -> None:
        if self.world > 1 and self.store.has('abort'):
            raise RunAborted(f'stopped: {self.store.get("abort")}')

    def _heartbeat(self) -> None:
        while not self._stop.wait(2.0):
            try:
                self.store.add(f'beat/{self.rank}')
            except RunAborted:
                return

    def _wait_for_ranks(self) -> None:
        """Rank 0: until every rank has finished, a rank fails, or one's
        heartbeat stands still for ``rank_timeout`` s."""
        beats = {r: (-1, time.monotonic()) for r in range(self.world)}
        while self.store.add('finished', 0) < self.world:
            self._check_abort()
            for r in range(1, self.world):
                if not self.store.has(f'done/{r}'):
                    beats[r] = self._check_beat(r, beats[r])
            time.sleep(0.2)

    def _collect(self, writer: ManifestWriter, record: dict) -> None:
        writer.write(record)
        self._collected.append(record)

    def _drain(self, writer: ManifestWriter) -> None:
        seen = getattr(self, '_seen', None) or [0] * self.world
        self._seen = seen
        for r in range(self.world):
            n = self.store.add(f'rec/{r}/n', 0)
            for i in range(seen[r], n):
                self._collect(
                    writer, json.loads(self.store.get(f'rec/{r}/{i}'))
                )
            seen[r] = n

    def _monitor(self, writer: ManifestWriter) -> None:
        last = time.monotonic()
        tty = sys.stderr.isatty()
        while not self._stop.wait(0.5):
            try:
                self._drain(writer)
            except RunAborted:
                return
            if self.progress and time.monotonic() - last >= (1 if tty else 10):
                last = time.monotonic()
                print(
                    self._progress_line(),
                    file=sys.stderr,
                    end='\r' if tty else '\n',
                    flush=True,
                )

    def _progress_line(self, final: bool = False) -> str:
        """``predict: 3/10 scenes, 12.4/50.0 Mpx, 0.85 Mpx/s, ETA 44 s``."""
        done = self.store.add('pixels_done', 0)
        scenes = self.store.add('scenes_done', 0)
        seconds = max(time.perf_counter() - self._start, 1e-9)
        rate = done / seconds
        eta = (self._total - done) / rate if rate > 0 else float('nan')
        text = (
            f'predict: {scenes}/{self._scenes} scenes, {done / 1e6:.1f}/'
            f'{self._total / 1e6:.1f} Mpx, {rate / 1e6:.2f} Mpx/s'
        )
        if final:
            return text + f', {seconds:.1f} s on {self.world} process(es)'
        return text + (f', ETA {eta:.0f} s' if eta == eta else '')


def _one_line(err: BaseException) -> str:
    from ..engine.errors import one_line

    return one_line(err)


class _BandWriter:
    """Writes the class map of pixel rows ``rows`` of a ``width``-wide scene
    into a GeoTIFF of those rows only (a part; the scene's windows are
    shifted up by ``rows[0]``)."""

    def __init__(self, path: str, width: int, rows: Tuple[int, int]):
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        from .raster_io import NODATA_CLASS

        self.row0 = rows[0]
        with warnings.catch_warnings():  # a part has no georeference
            warnings.simplefilter('ignore', NotGeoreferencedWarning)
            self._ds = rasterio.open(
                path,
                'w',
                driver='GTiff',
                height=rows[1] - rows[0],
                width=width,
                count=1,
                dtype='uint8',
                nodata=NODATA_CLASS,
                compress='deflate',
                tiled=True,
                blockxsize=256,
                blockysize=256,
            )

    def write(self, window: Tuple[int, int, int, int], classes) -> None:
        from rasterio.windows import Window

        col, row, width, height = window
        self._ds.write(
            classes.astype('uint8'),
            1,
            window=Window(col, row - self.row0, width, height),
        )

    def __enter__(self) -> '_BandWriter':
        return self

    def __exit__(self, *exc) -> None:
        self._ds.close()


def merge_parts(
    predictor: Any,
    path: str,
    out_dir: str,
    parts: Sequence[Tuple[int, int, str]],
    strip: int = 256,
) -> Dict[str, str]:
    """Copy the band parts ``(row_start, row_end, part_path)`` of scene
    ``path`` into its outputs (class map, preview), ``strip`` rows at a
    time (memory ``strip x width`` bytes), then delete the parts. No model
    pass: the parts hold the final classes."""
    from contextlib import nullcontext

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.windows import Window

    from ..utils.atomic import atomic_write
    from .raster_io import GDAL_CACHE_MB, ClassMapWriter, SceneReader

    p = predictor
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), SceneReader(
        path, p.bands, p.in_channels, p.nodata
    ) as reader:
        out = p.output_paths(path, out_dir, reader.is_plain_image)
        preview = atomic_write(out['preview']) if p.preview else nullcontext()
        with preview as preview_tmp, atomic_write(
            out['classes']
        ) as classes_tmp, ClassMapWriter(
            classes_tmp, reader, p.palette
        ) as writer:
            for r0, r1, part in parts:
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore', NotGeoreferencedWarning)
                    src = rasterio.open(part)
                with src:
                    if (src.height, src.width) != (r1 - r0, reader.width):
                        raise ValueError(
                            f'{part}: {src.height}x{src.width} pixels, not '
                            f'the band rows {r0}-{r1} of {path}'
                        )
                    for row in range(0, src.height, strip):
                        h = min(strip, src.height - row)
                        window = Window(0, row, src.width, h)
                        writer.write(
                            (0, r0 + row, src.width, h),
                            src.read(1, window=window),
                        )
            if p.preview:
                p._write_preview(reader, writer, preview_tmp)
            writer.close()
    for _, _, part in parts:
        os.remove(part)
    return out
