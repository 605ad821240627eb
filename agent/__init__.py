"""Store-and-forward on the tablet: the durable outbox and everything that
leaves the tablet for the center."""
