"""Where cells run: the Backend protocol (base), the local Rscript backend and the Azure ML backend."""
