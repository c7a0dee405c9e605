"""Region schemes: the stock ones shipped under data/ (``schemes``), finding any scheme by id (``lookup``),
those organizers upload (``custom``, checking their shapes with ``shapes``), and stored shapes read for the
map (``geometry``)."""

__all__ = ["custom", "lookup", "schemes"]
