"""Exercise 23.1 as a search: Optuna's samplers and pruners over the `search:` space, trials
trained in compiled groups. `space` (a trial's strategy, and the same as a `models:` entry),
`programs` (many strategies in one compiled program), `study` (the ask-train-tell loop, its
journal, resuming). `stages/search.py` runs it and confirms the best on the stats replicates."""
