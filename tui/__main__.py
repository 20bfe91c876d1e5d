"""`python -m tui`: the operator console. Importing this module starts nothing (a test,
a documentation tool or `pkgutil.walk_packages` may import it with no terminal)."""

from tui.app import main

if __name__ == "__main__":
    main()
