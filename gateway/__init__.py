"""ksz-gateway: a KSZ-style reference directory and access gateway."""
