"""`python -m hub_agent` is `hub-agent`."""

from hub_agent.cli import main

raise SystemExit(main())
