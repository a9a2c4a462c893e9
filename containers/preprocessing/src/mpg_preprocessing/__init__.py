"""SageMaker Processing job: fit the Auto MPG preprocessor on train, write all features."""
