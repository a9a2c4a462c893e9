"""Watching a deployed model: the baseline recorded at training time and its reader
(:mod:`.baseline`), and the comparisons of captured traffic with it (:mod:`.drift`).

The files follow SageMaker Model Monitor's ``statistics.json`` and ``constraints.json``
(version 0) where Model Monitor has a field, and add what its KLL sketch gave it: the bins
and a sample the tests here need. numpy, pandas and scipy only; no scikit-learn.
"""
