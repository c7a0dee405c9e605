"""Campaigns themselves: creating them and finding them as the public or staff may see them (``listing``),
and running them through their life (``lifecycle``)."""
