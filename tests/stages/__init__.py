"""Each stage script, `make` and the tools, as processes in temporary copies of the project."""
