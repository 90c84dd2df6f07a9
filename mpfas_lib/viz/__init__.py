"""Figures for the book: image grids, architecture drawings, ROC and bar charts, explorers."""
