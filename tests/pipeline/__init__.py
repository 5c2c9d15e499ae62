"""The real `dvc` (repro, exp, queue, plots) in temporary git repos on a tiny params file."""
