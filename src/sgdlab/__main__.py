"""`python -m sgdlab` is the `sgdlab` command."""

from sgdlab.cli import main

main()
