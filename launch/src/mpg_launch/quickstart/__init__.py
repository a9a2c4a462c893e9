"""``mpg-launch quickstart``: a user's CSV and its target column to a local endpoint answering
predictions, in one command, reusing every step whose inputs have not changed."""
