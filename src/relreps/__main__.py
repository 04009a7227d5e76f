"""``python -m relreps`` is the ``relreps`` command."""

import sys

from relreps.cli import main

if __name__ == "__main__":
    sys.exit(main())
