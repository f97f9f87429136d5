"""Allow ``python -m cvalues``."""

from cvalues.entry import main

if __name__ == "__main__":
    main()
