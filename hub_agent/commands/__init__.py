"""One module per `hub-agent` subcommand: `HELP`, `add_arguments(parser)`, `main(args) -> int`."""
