"""Streamlit pages. Each reads widgets, calls services in one session scope, and renders."""
