"""The application layer: one module per command (develop, night, portrait, frame, info, looks)
and the recipes that record every parameter of a command (:mod:`rawlux.app.recipe`).

Each public function takes paths and an options dataclass and returns a result (a path, an
Image, a result object): it opens any input (:mod:`rawlux.app.inputs`, one content-based
raw-or-photo decision), checks every output before work starts (:func:`rawlux.app.outputs.
check_outputs`), runs the pipeline plan and saves atomically, inside one memory scope
(:func:`rawlux.core.memory.reuse_freed_memory`). ``cli``, ``batch`` and ``studio`` call these
functions and touch no pixels.
"""
