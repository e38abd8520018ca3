"""`python -m levytts.train [hydra overrides]` — the same as `levytts train` (see levytts.tts.train)."""
import sys

from levytts.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
