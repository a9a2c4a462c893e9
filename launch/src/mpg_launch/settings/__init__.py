"""The user's settings: the config file, the environment and the flags read once into one
read-only :class:`~mpg_launch.settings.config.LaunchConfig`, and the checks of flag values."""
