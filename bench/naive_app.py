"""The naive baseline for ``st_signon``: one ``st.form`` that writes one row to SQLite and shows a thank-you.

What a first Streamlit petition looks like: no caches, no fragments, no validation beyond "fill in every
field". ``bench/st_signon.py`` serves it with Rally's server settings (the repository's
``.streamlit/config.toml`` and Rally's ``TCP_NODELAY`` fix) and drives it with the same load as Rally's page.
``NAIVE_DB`` names its SQLite file (WAL, ``synchronous=NORMAL``, like Rally's).
"""

from __future__ import annotations

import csv
import os
import sqlite3
import threading
from pathlib import Path

import streamlit as st

REGIONS = Path(__file__).resolve().parent.parent / "data" / "regions" / "us-states.csv"


@st.cache_resource
def database() -> tuple[sqlite3.Connection, threading.Lock]:
    conn = sqlite3.connect(os.environ["NAIVE_DB"], check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS signature (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, "
        "region TEXT NOT NULL, consent INTEGER NOT NULL, created_at TEXT DEFAULT CURRENT_TIMESTAMP)"
    )
    return conn, threading.Lock()


@st.cache_resource
def regions() -> list[str]:
    with REGIONS.open(newline="") as f:
        return [row["name"] for row in csv.DictReader(f)]


st.title("Fund the libraries")
st.markdown("Keep every branch library open on weekends.")
with st.form("sign"):
    name = st.text_input("Your name")
    email = st.text_input("Email")
    region = st.selectbox("State", regions(), index=None)
    consent = st.checkbox("The organizers may email me about this campaign")
    submitted = st.form_submit_button("Sign")
if submitted:
    if not name.strip() or "@" not in email or region is None:
        st.error("Please fill in every field.")
    else:
        conn, lock = database()
        with lock:
            conn.execute(
                "INSERT INTO signature (name, email, region, consent) VALUES (?, ?, ?, ?)",
                (name.strip(), email.strip(), region, int(consent)),
            )
        st.success(f"Thank you, {name}. Your name is on it.")
