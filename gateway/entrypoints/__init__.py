"""Entry points: the composition root (settings -> store -> services -> WSGI app), the servers and the CLI.

The only layer that may import every other one; nothing is wired anywhere else.
"""
