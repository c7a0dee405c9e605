"""Rally's router: which pages this visitor may see, then run the chosen one.

Start the app with `make run` (or `streamlit run rally_app.py`), which serves this
script inside the ASGI entry that adds Rally's HTTP routes.
"""

import streamlit as st

from campaigns.settings import get_settings
from campaigns.ui import common, public

st.set_page_config(page_title=get_settings().org_name, page_icon="✊", layout="centered")
common.apply_style()

pages = [st.Page(public.render, title="Campaigns", icon=":material/campaign:", url_path="campaigns", default=True)]
st.navigation(pages, position="hidden").run()
