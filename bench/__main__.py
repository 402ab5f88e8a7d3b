"""``python -m bench [--quick] [--orders N] [--messages N] [--json PATH]``."""

from bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
