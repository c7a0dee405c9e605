"""Rally's router: who is looking, which pages they may see, then run the chosen one.

Start the app with `make run` (or `streamlit run rally_app.py`), which serves this
script inside the ASGI entry that adds Rally's HTTP routes (log-in among them).
"""

import streamlit as st

from campaigns.core.settings import get_settings
from campaigns.sharing import links
from campaigns.ui import access, navigation, widgets

links.read_requests_with(access.request_address)  # links and emails built on the address the visitor used

st.set_page_config(page_title=get_settings().org_name, page_icon="✊", layout="centered")
widgets.apply_style()

if access.resumed_elsewhere():  # this browser's app process went away (several processes: README, Operations)
    st.info(access.RECONNECTED, icon=":material/sync:")
actor = access.current_person()
if actor is None and st.session_state.pop("just_logged_out", False):
    st.toast("You are logged out.", icon=":material/logout:")
st.navigation(navigation.build(actor), position="top" if actor else "hidden").run()
