"""Run directories: the files of a run named once (`layout`), checkpoints (`checkpoint`), a config becoming a
model and a run a trained model again (`model`), the k-fold layout (`kfold`), the inference loop (`inference`),
predictions on files or in-memory jets (`prediction`), and `Run`, the object that owns a run directory (`run`).
Training writes runs through this layer; predict, export, the test set, plots and the Python API read them through
it and never import gnnjet.training."""
