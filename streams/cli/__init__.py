"""The `crucial` command line (streams.cli.main) and its subcommands."""
