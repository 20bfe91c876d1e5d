"""`python -m tui`: the operator console."""

from tui.app import main

main()
