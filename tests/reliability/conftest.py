"""The blob tests' Azurite fixtures, reused here for the secrets test (one emulator per session either way)."""

from tests.blob.conftest import azurite, container

__all__ = ["azurite", "container"]
