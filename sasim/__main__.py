"""``python -m sasim``: the same as the ``sasim`` command."""

from sasim.cli import main

raise SystemExit(main())
