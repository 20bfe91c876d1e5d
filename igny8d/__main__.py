"""`python -m igny8d` → the CLI."""

from igny8d.cli import main

if __name__ == "__main__":
    main()
