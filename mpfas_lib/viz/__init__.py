"""Figures for the book: image grids, architecture drawings, ROC and bar charts, explorers.

- static figures (:mod:`~mpfas_lib.viz.figures`, matplotlib): :func:`image_grid`,
  :func:`channel_grid`, :func:`draw_detection`, :func:`benchmark_gallery` (chapter 02),
  :func:`hfn_diagram` (chapter 05);
- result plots (:mod:`~mpfas_lib.viz.plots`): :func:`roc_curves`, :func:`det_curves`,
  :func:`score_histograms` (chapter 07), :func:`ablation_bars`, :func:`shift_curves`,
  :func:`style_results` (chapter 08), :class:`ParameterTrace` /
  :func:`parameter_trace_plot` (chapter 06);
- interactive figures that work in the static book (plotly): :func:`cdc_theta_explorer`
  (chapter 04), :func:`fusion_explorer` (chapter 05), :func:`algorithm1_explorer`
  (chapter 06), :func:`roc_threshold_explorer` (chapter 07), the Meta Pattern explorers
  :func:`grid_explorer` and :func:`widget_explorer` (chapter 11), :func:`html` to embed one.

The front is lazy (:mod:`mpfas_lib.fronts`): a matplotlib figure does not import plotly.
"""

from mpfas_lib.fronts import lazy_front

__all__, __getattr__, __dir__ = lazy_front(__name__, {
    "figures": ("benchmark_gallery", "channel_grid", "draw_detection", "hfn_diagram",
                "image_grid", "to_image"),
    "interactive": ("grid_explorer", "html", "pattern_panels", "patterns_for_states",
                    "shown_at", "widget_explorer"),
    "method_figures": ("algorithm1_explorer", "cdc_theta_explorer", "fusion_explorer",
                       "roc_threshold_explorer"),
    "plots": ("ParameterTrace", "ablation_bars", "det_curves", "parameter_trace_plot",
              "roc_curves", "score_histograms", "shift_curves", "style_results"),
})
