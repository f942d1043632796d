"""The composition roots: the CLI, each service process's wiring, process control, migrations."""
