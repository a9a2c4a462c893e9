"""The SageMaker Model Registry: model package groups, versions, approval and deploy."""
