"""``python -m jitlite``: the ``jitlite`` command."""

from jitlite.cli import main

if __name__ == "__main__":
    main(prog_name="jitlite")
