"""``python -m examples.manage_billing``: see app.py."""

from .app import main

main()
