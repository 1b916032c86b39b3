"""The web calculator (Shiny for Python): one patient in a form, scored by ``models.predict``."""
