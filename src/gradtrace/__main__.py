"""``python -m gradtrace``: the same CLI as the ``gradtrace`` command."""

from gradtrace.cli import main

raise SystemExit(main())
