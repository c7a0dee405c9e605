"""The foundation every capability stands on: settings, the database (engines, sessions, retries, migrations),
the tables, domain errors, the audit log, input cleaning, upload reading, random tokens, client addresses, and
mail (messages, transports, the durable outbox). Imports nothing from the other packages."""
