"""Sub-commands of ``ksz-gateway``: each module registers its own (see gateway.entrypoints.cli)."""
