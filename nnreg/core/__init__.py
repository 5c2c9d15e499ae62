"""The pure library: arrays and small records in, arrays and small records out.

`data` (the lecture's generator), `activations` and `initializers` (tables by name),
`network` (the MLP as a pytree), `optimizers` (hand-written GD and Optax's, by name),
`training` (the jitted training loop and its freeze rule), `replicates` (many networks in
one vmapped, sharded program), `evaluate` (a trained network's metrics), `stats` (replicate
statistics with scipy). Nothing here reads or writes a file, reads the environment or
handles a signal: that is `nnreg.runtime`'s.
"""
