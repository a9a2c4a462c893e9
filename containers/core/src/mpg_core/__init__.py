"""Code that more than one image needs: the Auto MPG schema and data, the fitted-preprocessor
transformers, the SageMaker path contract, artifacts, errors and logging.

Installed (non-editable, from the one lock) into every image, so a pipeline pickled in the
preprocessing or training image unpickles in the serving image.
"""

__version__ = "0.1.0"
