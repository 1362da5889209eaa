# Each module below registers itself on import; add one line per module.
