"""`python -m radios.zigbee backup|restore --config FILE` (see radios.zigbee.tool)."""

from radios.zigbee.tool import main

raise SystemExit(main())
