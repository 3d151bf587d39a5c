"""The application layer: one function per job shared by the CLI, the web API and Python, and
the registry of every default and limit those faces read."""
