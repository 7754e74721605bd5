"""Portrait mode: subject mask (:mod:`.mask`), depth (:mod:`.depth`), lens characters
(:mod:`.lens`, data files in ``lenses/``) and the layered bokeh renderer (:mod:`.bokeh`);
:func:`rawlux.portrait.render.portrait` ties them together. Submodules are imported on use so
``import rawlux`` stays light."""
