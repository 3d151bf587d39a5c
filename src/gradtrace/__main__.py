"""``python -m gradtrace``: the same CLI as the ``gradtrace`` command."""

from gradtrace.cli import main

if __name__ == "__main__":  # importing this module runs nothing
    raise SystemExit(main())
