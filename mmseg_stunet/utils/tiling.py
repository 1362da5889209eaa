"""Window geometry shared by the data converter and the scene predictor."""
from typing import List

__all__ = ['window_starts']


def window_starts(length: int, size: int, stride: int) -> List[int]:
    """Starts of windows of ``size`` every ``stride`` px covering
    ``[0, length)``; the last window is moved back to end at the border, so
    every window lies inside (a single window ``[0, length)`` if
    ``length <= size``).

    Raises:
        ValueError: for a non-positive ``length``, ``size`` or ``stride``.
    """
    if length < 1 or size < 1 or stride < 1:
        raise ValueError(f'need positive length, size and stride, got '
                         f'{length}, {size}, {stride}')
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts
