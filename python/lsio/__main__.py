"""``python -m lsio ...`` is the ``lsio`` command."""

from lsio._cli import main

main()
