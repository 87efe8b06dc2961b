"""The parallel step: one input split into mini-batches or partitions, R on each, rows appended into one file."""
