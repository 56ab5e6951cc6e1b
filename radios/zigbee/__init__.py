"""Zigbee through zigpy: the adapter (`radio.ZigbeeRadio`), the pure cluster mapping, backups."""
