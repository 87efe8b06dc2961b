"""Serving a registered R model: serve.R (plumber) and its container build context, a local server under local R,
and an Azure ML managed online endpoint from the built image."""
