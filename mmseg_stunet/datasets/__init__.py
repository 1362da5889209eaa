"""ISPRS converters and the synthetic raw-ISPRS generator (plain functions,
nothing to register)."""
