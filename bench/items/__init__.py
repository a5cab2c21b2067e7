"""The five benchmark items; each module's ``run`` returns an ``ItemResult``."""
