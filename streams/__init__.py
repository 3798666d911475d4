"""Crucial Hour's running side, in three packages: streams.pipeline (the Kafka side), streams.web (the
web port) and streams.cli (the `crucial` command)."""
