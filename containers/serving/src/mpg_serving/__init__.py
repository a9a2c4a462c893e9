"""SageMaker serving: Flask under gunicorn, for real-time endpoints and batch transform."""
