"""Fast unit tests of the engine (rjobs): no R, no network, no real sleeping."""
