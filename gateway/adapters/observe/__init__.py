"""The operator's view of the gateway: the request log, the Prometheus metrics, and the probes (/health, /ready,
the metrics path), all fed by the request events of ``gateway.app.observation``.

Invariant: the composition root is the only way in. The fronts never import this package: they fill a request's
note (``gateway.app.observation``) and know nothing of logs or metrics; this package knows no front. Importing it
opens nothing and imports no ``prometheus_client`` (``metrics`` does, when it is imported, after ``serve`` has
chosen where worker processes keep their counts).
"""
