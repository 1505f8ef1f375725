"""Run the CLI as ``python -m graph``."""

from graph.cli import main

main()
