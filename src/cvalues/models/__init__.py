"""Model backends behind one small interface (see :mod:`cvalues.models.base`)."""
