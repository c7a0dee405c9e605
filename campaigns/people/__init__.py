"""People: staff accounts and log-in (``staff``), set-password links, supporters' control of their own data
(``supporters``) and retention."""
