"""igny8d: a self-hosted server for the IGNY8 API v1."""

__version__ = "0.1.0"
