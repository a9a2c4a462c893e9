"""Processing, training, tuning and transform jobs: their requests and the commands that run
them."""
