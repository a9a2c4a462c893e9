"""SageMaker Training job: a random forest on the Auto MPG features.

The image runs sagemaker-training's ``train`` command, which imports
``SAGEMAKER_TRAINING_MODULE=mpg_training.job:main`` (the way AWS's framework images use it).
"""
