"""Training: data splits, the trainer loop, checkpoints and distributed (DDP) launch."""
