"""``monitor``: the processing image's model-monitoring job (drift and quality of an
endpoint's captured traffic against the baseline that ships in model.tar.gz)."""
