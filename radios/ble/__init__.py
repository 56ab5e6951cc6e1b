"""Bluetooth LE: bleak for scanning and GATT, bthome-ble for BTHome advertisements."""
