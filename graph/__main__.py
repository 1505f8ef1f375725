"""Run the CLI as ``python -m graph``."""

from graph.cli import run

if __name__ == "__main__":  # not when a spawned worker process imports this module
    run()
