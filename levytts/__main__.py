"""`python -m levytts …`: the same as the `levytts` command (levytts.cli)."""
import sys

from levytts.cli import main

if __name__ == "__main__":
    sys.exit(main())
