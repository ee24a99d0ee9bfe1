"""`python -m losslint` is the same as the `losslint` command."""

from losslint.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
