"""The Kafka side: the Faust app, thin agents, web views, the CLI and the local broker."""
