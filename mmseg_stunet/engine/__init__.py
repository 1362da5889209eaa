# Each module below registers itself on import; add one line per module.
from . import cpu_distributed  # noqa: F401
from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .resume_data_order_hook import ResumeDataOrderHook  # noqa: F401
