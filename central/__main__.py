"""``python -m central ...`` = ``livescan central ...``."""

from central.cli import central

if __name__ == "__main__":
    central(prog_name="livescan central")
