"""Data files shipped with the gateway: the quality-code catalogues and the default flow catalogue."""
