"""`python -m hub_agent` is `hub-agent`."""

from hub_agent.cli import console_main

raise SystemExit(console_main())
