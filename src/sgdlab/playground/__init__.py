"""A live playground: pick a 2-D problem and up to three methods, move their sliders, watch the paths.

`sgdlab playground` (needs `pip install -e ".[playground]"`, i.e. Bokeh) serves it on 127.0.0.1.
`sgdlab.playground.model` is the pure-Python part (settings → paths and curves, computed by sgdlab's
own methods and engine); `sgdlab.playground.app` builds the Bokeh document;
`sgdlab.playground.server` runs the Bokeh server. Importing this package imports neither Bokeh nor
sgdlab's numerics.
"""
