"""Window layout for overlap-tile inference on scenes larger than a window."""

from typing import Iterator, List, NamedTuple, Tuple

from ..utils.tiling import window_starts


class Span(NamedTuple):
    """One window along one axis.

    ``start:start + size`` is read and run through the model; only
    ``core_start:core_end`` of the result is kept, so every pixel of the scene
    is predicted by exactly one window, the one in which it lies farthest from
    the window border (the overlap-tile strategy of U-Net).
    """

    start: int
    size: int
    core_start: int
    core_end: int


class Tile(NamedTuple):
    """A 2-D window: a :class:`Span` along rows and one along columns."""

    row: Span
    col: Span

    @property
    def read_window(self) -> Tuple[int, int, int, int]:
        """``(col_off, row_off, width, height)`` of the pixels to read."""
        return self.col.start, self.row.start, self.col.size, self.row.size

    @property
    def core_window(self) -> Tuple[int, int, int, int]:
        """``(col_off, row_off, width, height)`` of the pixels to write."""
        return (
            self.col.core_start,
            self.row.core_start,
            self.col.core_end - self.col.core_start,
            self.row.core_end - self.row.core_start,
        )

    @property
    def core_slices(self) -> Tuple[slice, slice]:
        """Row and column slices of the core inside the window's prediction."""
        return (
            slice(
                self.row.core_start - self.row.start,
                self.row.core_end - self.row.start,
            ),
            slice(
                self.col.core_start - self.col.start,
                self.col.core_end - self.col.start,
            ),
        )


def axis_spans(length: int, window: int, overlap: int) -> List[Span]:
    """Split ``length`` pixels into windows of ``window`` px overlapping by at
    least ``overlap`` px.

    Windows start every ``window - overlap`` px; the last one is moved back to
    end at the border, so all windows have the same size (``min(window,
    length)``) and no padding is needed. Neighbouring cores meet in the middle
    of their overlap.
    """
    if length < 1:
        raise ValueError(f'cannot tile an axis of length {length}')
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(
            f'need window >= 1 and 0 <= overlap < window, got '
            f'window={window}, overlap={overlap}'
        )
    if length <= window:
        return [Span(0, length, 0, length)]
    starts = window_starts(length, window, window - overlap)
    cuts = [(nxt + cur + window) // 2 for cur, nxt in zip(starts, starts[1:])]
    bounds = [0] + cuts + [length]
    return [
        Span(s, window, lo, hi)
        for s, lo, hi in zip(starts, bounds[:-1], bounds[1:])
    ]


def scene_tiles(
    height: int, width: int, window: Tuple[int, int], overlap: Tuple[int, int]
) -> Iterator[Tile]:
    """Tiles covering a ``height x width`` scene in row-major order; the cores
    partition the scene."""
    rows = axis_spans(height, window[0], overlap[0])
    cols = axis_spans(width, window[1], overlap[1])
    for row in rows:
        for col in cols:
            yield Tile(row, col)
