"""The Crucial Hour domain: pure and I/O-free, apart from alerts.channels (the provider boundary)."""
