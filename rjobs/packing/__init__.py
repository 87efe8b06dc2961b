"""Packed jobs: many work items per job, run by a shell runner with several Rscript processes (issue 15)."""
