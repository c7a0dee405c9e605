"""Region schemes: the stock ones shipped under data/ (``schemes``), those organizers upload (``custom``), and
the checks on their shapes (``shapes``)."""
