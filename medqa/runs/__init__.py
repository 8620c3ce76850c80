"""Trained runs on disk: the run registry and the typed run record.

Kept outside :mod:`medqa.training` so that what only reads runs (the Ask and Compare pages, the
evaluation runner, the Hub import) does not reach into the training code.
"""
