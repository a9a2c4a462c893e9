#!/bin/sh
# install-image-package PACKAGE: run in the builder (mpg-builder) by each image's Dockerfile.
# Installs PACKAGE from the lock beside mpg-core in /opt/venv, then collects in /opt/extra only
# the files that differ from the core venv, so the image's runtime stage adds just those on top
# of the layers the three images share.
set -eu
package="$1"
cp -a /opt/venv /opt/venv.core
uv sync --frozen --no-dev --package "$package" --no-editable --inexact
find /opt/venv -depth -type d -name tests -exec rm -rf {} +
rsync -a --checksum --compare-dest=/opt/venv.core/ /opt/venv/ /opt/extra/
find /opt/extra -depth -type d -empty -delete
