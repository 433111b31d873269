"""``python -m atokio <tool> [arguments]``: the same as the ``atokio`` command."""

from __future__ import annotations

import sys

from atokio.cli.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
