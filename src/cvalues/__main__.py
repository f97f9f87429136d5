"""Allow ``python -m cvalues``."""

from cvalues.cli import main

if __name__ == "__main__":
    main()
