"""The model artifact, end to end: what a job writes to /opt/ml/model (SageMaker tars it to
``model.tar.gz``) and what the serving image opens.

An artifact folder holds ``estimator.joblib`` (the fitted scikit-learn estimator, the source
of truth), ``artifact.json`` (its kind, input and output columns, library versions, the
estimator's sha256 and the compiled form's entry) and, when the estimator compiles and passes
the parity check, ``compiled.npz`` (its numpy form). The kind says what the estimator maps:
``preprocessor`` (raw rows -> features), ``model`` (features -> mpg) or ``pipeline`` (raw rows
-> mpg), so the serving image can be either container of an inference pipeline.

Modules, import what you use (this package imports nothing itself, so the launcher can use
the tarball helpers without numpy):

* :mod:`~mpg_core.artifact.files`: file names, ``artifact.json``, ``model.tar.gz``, ``Artifact``;
* :mod:`~mpg_core.artifact.writer`: ``write_artifact`` (pickle, compile, check, npz, manifest);
* :mod:`~mpg_core.artifact.reader`: ``open_artifact`` (a model behind one ``predict``, compiled or
  scikit-learn) and ``load_artifact`` (the estimator itself);
* :mod:`~mpg_core.artifact.compiled`: the compiled form at run time (numpy and the C walk);
* :mod:`~mpg_core.artifact.npz`: the compiled form on disk;
* :mod:`~mpg_core.artifact.compiler`: a fitted estimator to its compiled form;
* :mod:`~mpg_core.artifact.estimator`: the estimator behind the same ``predict``;
* :mod:`~mpg_core.artifact.parity`: the check that the compiled form equals the estimator.
"""
