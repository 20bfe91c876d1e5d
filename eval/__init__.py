"""Quality evaluations of what the AI steps produce (`make eval`): clustering against the gold
sets in `eval/data/`, and the content the providers write. Each suite module offers
`evaluate() -> Report` and its `FLOORS`; CI enforces the floors on the dev data."""
