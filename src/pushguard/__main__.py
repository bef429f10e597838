"""``python -m pushguard``: the same command as the ``pushguard`` script."""

from pushguard.cli import main

main()
