"""The R environment check: rscan (code), dockerfile (image), local_r (installed R), check (the report)."""
