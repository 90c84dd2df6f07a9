"""Data: the synthetic benchmark, real dataset adapters, protocols and balanced sampling."""
