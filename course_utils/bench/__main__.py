"""``python -m course_utils.bench``: run the command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
