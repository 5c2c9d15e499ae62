"""The lecture's own code: the reference nnreg is checked against (tests) and timed against
(benchmarks). `reference` holds its functions as published (row layout, `jax.grad`,
`lax.fori_loop`); `script` runs them in the notebook's order, as one script."""
