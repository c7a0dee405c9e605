"""Letters to decision-makers: organizer templates run in a sandbox (``templates``, with ``context``,
``checks`` and ``sandbox`` behind it), targets, delivering letters (``outreach``, ``deliveries``) and PDFs."""
