"""Rally: an advocacy campaign organizing toolkit.

The domain package: settings, storage, and one module per capability. Nothing in
here imports Streamlit except ``campaigns.ui``.
"""

__version__ = "0.1.0"
