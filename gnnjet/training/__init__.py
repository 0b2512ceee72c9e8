"""Training: claiming a run directory, data splits, the trainer loop, random states, k-fold, fine-tuning and
distributed (DDP) launch. Runs are written through `gnnjet.runs`; the public entry point is `gnnjet.train`."""
