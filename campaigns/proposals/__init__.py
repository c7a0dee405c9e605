"""Campaigns members propose: the proposal and the proposer's own link (``drafting``), co-sponsors confirming
by email and the credits on the campaign (``sponsoring``), the organizers' queue and decisions (``review``),
their emails (``mails``), the expiry of proposals that never found their co-sponsors (``expiry``), and what
they hold about one mailbox, forgotten on a supporter's erasure (``privacy``)."""

__all__ = ["drafting", "expiry", "mails", "privacy", "review", "sponsoring"]
