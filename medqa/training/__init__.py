"""Fine-tuning the retrieval model: data, training, the run registry, model cards and Hub publishing.

Importing this package is cheap: the heavy modules (torch, sentence-transformers) are imported by
:mod:`medqa.training.trainer` only when a training starts.
"""
