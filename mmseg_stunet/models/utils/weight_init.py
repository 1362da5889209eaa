"""PyTorch's default initialisation for modules built from mmcv bricks.

mmcv's ``ConvModule`` initialises its convolution with Kaiming normal
(fan_out, ReLU gain) when built and again when mmengine's ``init_weights``
reaches it; the ST-UNet authors keep PyTorch's default (Kaiming uniform with
a = sqrt(5): weights and biases uniform in +-1/sqrt(fan_in)). In SIM this
matters: the Kaiming-normal spread is about twice as large, and SIM's outer
product squares it at every block pair.
"""

from torch import nn

__all__ = ['reset_to_torch_default', 'TorchDefaultInitMixin']

_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def reset_to_torch_default(*roots: nn.Module) -> None:
    """``reset_parameters()`` of every conv, transposed conv and linear
    under ``roots``: PyTorch's default initialisation."""
    for root in roots:
        for m in root.modules():
            if isinstance(m, _LAYERS):
                m.reset_parameters()


class TorchDefaultInitMixin:
    """Mixin for a ``BaseModule`` whose convolutions and linears keep
    PyTorch's default initialisation, after mmengine's ``init_weights`` too,
    unless an ``init_cfg`` is given.

    Subclasses (``class M(TorchDefaultInitMixin, BaseModule)``) call :meth:`torch_default_init` at the end of ``__init__``
    and may override :meth:`default_init_roots` to leave parts (e.g. a
    deformable conv with its own initialisation) alone.
    """

    def default_init_roots(self) -> tuple:
        return (self,)

    def torch_default_init(self) -> None:
        if self.init_cfg is None:
            reset_to_torch_default(*self.default_init_roots())

    def init_weights(self) -> None:
        super().init_weights()
        self.torch_default_init()
