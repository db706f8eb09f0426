"""Entry point for ``python -m pydriver``."""

from pydriver.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
