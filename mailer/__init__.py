"""mailer: invite the media to an event and release an embargoed press release on the minute."""

__version__ = "0.1.0"
