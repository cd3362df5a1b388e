"""The four partnerhub services; each runs as ``python -m services.<name>``."""
