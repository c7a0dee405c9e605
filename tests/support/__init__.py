"""What the tests share that is not a fixture: factories, fixed data, and harnesses for databases, a running
app, a browser and a mail server. Fixtures live in the conftest.py files."""
