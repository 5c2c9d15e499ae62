"""The stages' edge: what the pure library leaves out.

`machine` (before JAX starts: XLA's CPU target, the compilation cache; a record of the
machine for the timing files), `paths` (where the pipeline keeps its files), `progress`
(progress lines), `stage` (running a stage: one-line errors, stop signals, outputs written
all or none, the memory check of a batch), `files` (atomic, deterministic writes; checked
reads) and `schemas` (the pipeline's own JSON files). Every stage calls what it needs
explicitly at its start; importing these modules changes nothing.
"""
